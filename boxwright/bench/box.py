"""The box group: cold vs reused builds, per-provider packaging, publishing, `vagrant up` → SSH.

A full run builds the docker-host box from nothing (``--no-cache``), then again with
nothing changed (a reused version), then with one file under ``rootfs/`` changed (a
copy of the definition, so the real catalog is untouched); it publishes the box to a
real S3 server (SeaweedFS from the test dependencies) and to a directory served over
HTTP, and times ``vagrant box add`` from that URL.  ``--quick`` reuses the newest build
(the test suite has just built and booted it) and times the no-op rebuild and the boot.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from boxwright import paths, proc
from boxwright.bench.record import Recorder
from boxwright.bench.servers import serve_directory, start_s3_server
from boxwright.box.accel import detect_accel
from boxwright.box.boot import booted_box, newest_version, power_on_to_ssh, work_dir
from boxwright.box.definition import BoxDefinition, box_names, load_box
from boxwright.errors import BenchError

__all__ = ["bench_box", "last_test_box", "last_vmdk_boot"]

BOX = "docker-host"
MB = 1e6


def last_test_box() -> Path:
    """Written by the test-box session (tests/vm/conftest.py): how long the whole run took."""
    return work_dir() / "last-run.json"


def last_vmdk_boot() -> Path:
    """Written by tests/vm/test_virtualbox_vmdk.py: the VMDK's boot under QEMU."""
    return work_dir() / "last-vmdk-boot.json"


def bench_box(rec: Recorder, name: str = BOX) -> None:
    """Build (cold unless --quick finds a box), rebuild, publish, boot; record it all."""
    from boxwright.box.build import box_file_name, build_box, dist_boxes

    catalog = dist_boxes() / f"{name}.json"
    if rec.quick and catalog.is_file():
        version = newest_version(catalog)[1]
        note = "newest existing build (--quick)"
    else:
        version = build_box(name, no_cache=True).version
        note = "--no-cache"
    build = json.loads((catalog.parent / name / version / "build.json").read_text())
    accel = detect_accel()
    rec.facts["box accelerator"] = f"{accel.name} ({accel.reason})"
    rec.add("box", "build: cold (every stage)", name, "s", [build["total_seconds"]], note=note)
    for stage, seconds in build["stages_seconds"].items():
        if not stage.startswith("package-"):
            rec.add("box", f"build stage: {stage}", name, "s", [seconds], note=note)
    started = time.monotonic()
    noop = build_box(name)
    rec.add("box", "build: no-op rebuild", name, "s", [time.monotonic() - started],
            note=f"reused {noop.version}" if noop.reused else "NOT reused")
    if not rec.quick:
        _one_file_changed(rec, name)
    sizes = build["sizes_bytes"]
    definition = load_box(name)
    for stage, seconds in build["stages_seconds"].items():
        if stage.startswith("package-"):
            provider = stage.removeprefix("package-")
            rec.add("box", "packaging time", provider, "s", [seconds])
            box = catalog.parent / name / version / box_file_name(definition, version, provider)
            rec.add("box", ".box size", provider, "MB", [box.stat().st_size / MB])
    rec.add("box", "qcow2 actual size", name, "MB", [sizes["disk_actual"] / MB])
    rec.add("box", "qcow2 virtual size", name, "MB", [sizes["disk_virtual"] / MB])
    if not rec.quick:
        _publish(rec, name)
        _power_on(rec, definition, build)
    with booted_box(catalog, machines=("default",), driver=accel.libvirt_driver) as vm:
        rec.add("box", "vagrant up → SSH ready (incl. pool upload)", name, "s", [vm.up_seconds],
                note=f"{accel.name}, version {version}")
    last = _read(last_test_box())
    if last:
        rec.add("box", "test-box total (last run)", name, "s", [last["seconds"]],
                note=f"{last['tests']} checks, 2 VMs")
    vmdk = _read(last_vmdk_boot())
    if vmdk:
        rec.add("box", "VMDK under QEMU → SSH banner (last run)", "virtualbox", "s",
                [vmdk["ssh_banner_seconds"]], note=f"{vmdk['accelerator']}, AHCI + virtio-net")
    _other_architectures(rec)


def _other_architectures(rec: Recorder) -> None:
    """Every other shipped box (docker-host-arm64: packages configured under binfmt, booted under
    TCG here) beside docker-host: cold build, rootfs stage, size; full runs also boot it."""
    from boxwright.box.build import box_file_name, build_box, catalog_path

    for name in box_names():
        if name == BOX:
            continue
        box = load_box(name)
        catalog = catalog_path(box)
        if rec.quick and catalog.is_file():
            version, note = newest_version(catalog)[1], "newest existing build (--quick)"
        else:
            version = build_box(name, no_cache=not rec.quick).version
            note = "reused stages (--quick)" if rec.quick else "--no-cache"
        build = json.loads((catalog.parent / name / version / "build.json").read_text())
        rec.add("box", "build: cold (every stage)", name, "s", [build["total_seconds"]], note=note)
        rec.add("box", "build stage: rootfs", name, "s", [build["stages_seconds"].get("rootfs", 0.0)],
                note=f"{box.arch}: packages {build['stages_seconds'].get('packages', 0.0)} s; {note}")
        path = catalog.parent / name / version / box_file_name(box, version, "libvirt")
        rec.add("box", ".box size", f"libvirt {box.arch}", "MB", [path.stat().st_size / MB])
        if rec.quick:
            continue
        _power_on(rec, box, build)
        with booted_box(catalog, machines=("default",)) as vm:
            rec.add("box", "vagrant up → SSH ready (incl. pool upload)", name, "s", [vm.up_seconds],
                    note=f"{box.arch} under TCG (the box's Vagrantfile), version {version}")


def _power_on(rec: Recorder, box: BoxDefinition, build: dict[str, Any]) -> None:
    """QEMU on the box's disk (as libvirt would start it) until sshd answers: firmware, boot loader,
    kernel and first boot, without Vagrant and libvirt."""
    from boxwright.box.build import stage_cache

    disk = stage_cache(box.name).path("disk", build["keys"]["disk"], ".qcow2")
    seconds = power_on_to_ssh(box.platform, disk, cpus=box.cpus, memory=box.memory)
    rec.add("box", "power-on → SSH banner (QEMU TCG)", box.name, "s", [seconds],
            note=f"{box.arch}, {box.platform.firmware.upper()}, cpu {box.platform.tcg_cpu_model}")


def _one_file_changed(rec: Recorder, name: str) -> None:
    """Rebuild a copy of the definition with one rootfs/ file edited (same stage cache)."""
    from boxwright.box.build import build_box

    with tempfile.TemporaryDirectory(prefix="bench-box-") as tmp:
        boxes = Path(tmp) / "boxes"
        shutil.copytree(paths.boxes_dir() / name, boxes / name)
        motd = boxes / name / "rootfs" / "etc" / "motd"
        motd.write_text(motd.read_text() + f"bench {time.time_ns()}\n")
        started = time.monotonic()
        result = build_box(name, boxes_dir=boxes, dist=Path(tmp) / "dist")
        rec.add("box", "build: one rootfs/ file changed", name, "s", [time.monotonic() - started],
                note=f"reused: {', '.join(result.reused_stages) or 'nothing'}")


def _publish(rec: Recorder, name: str) -> None:
    """Publish to a real S3 server and to a directory served over HTTP; time vagrant box add."""
    from boxwright.box.publish import publish_box

    with tempfile.TemporaryDirectory(prefix="bench-publish-") as tmp:
        root = Path(tmp)
        (root / "s3").mkdir()
        with start_s3_server(root / "s3") as server, _env(server.env()):
            result = publish_box(name, f"s3://{server.bucket}/bench", endpoint=server.endpoint)
        rec.add("box", "publish-box to S3 (SeaweedFS, 127.0.0.1)", name, "s", [result.seconds],
                note=f"{len(result.uploaded)} box files, {result.bytes_uploaded / MB:.0f} MB")
        served = root / "www"
        served.mkdir()
        with serve_directory(served) as url:
            published = publish_box(name, str(served), base_url=url)
            home = root / "vagrant.d"
            env = {"VAGRANT_HOME": str(home), "VAGRANT_CHECKPOINT_DISABLE": "1"}
            started = time.monotonic()
            proc.run(["vagrant", "box", "add", "--provider", "libvirt", published.catalog_url],
                     env=env, timeout=900, error=BenchError, what="vagrant box add")
            rec.add("box", "vagrant box add from HTTP", "libvirt", "s", [time.monotonic() - started])


@contextlib.contextmanager
def _env(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _read(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None
