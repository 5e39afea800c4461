"""Build a Vagrant box from ``boxes/<name>/``: rootfs, customise, disk, package, catalog.

Each stage is a timed progress step (:mod:`boxwright.progress`), writes to a temporary path
and renames it into place, so a failure or Ctrl-C leaves the previous outputs
and no half-written box.  The stages' figures (durations, sizes, accelerator)
go to ``build.json`` beside the box for ``invoke bench``.  Under ``--dry`` the
stages log the commands they would run and nothing is written.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import io
import json
import logging
import os
import shutil
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from boxwright import __version__, hostparts, paths
from boxwright.atomic import atomic_dir, atomic_file, remove_stale_temporaries
from boxwright.box.accel import Accel, detect_accel
from boxwright.box.catalog import (
    add_version,
    build_version,
    provider_entry,
    read_catalog,
    sha256_file,
    write_catalog,
)
from boxwright.box.definition import BoxDefinition, load_box
from boxwright.box.disk import compress_argv, create_argv, disk_layout, guestfish_script, run_guestfish
from boxwright.box.preload import save_images
from boxwright.box.rootfs import mmdebstrap_argv, render_overlay, template_context
from boxwright.errors import BuildError, ToolMissing
from boxwright.proc import is_dry, require, run, stream
from boxwright.progress import Step, note, step
from boxwright.provenance import git_dirty, git_revision, source_date_epoch
from boxwright.render import render_template

__all__ = [
    "BoxResult",
    "box_file_name",
    "build_box",
    "catalog_path",
    "dist_boxes",
    "metadata",
    "render_vagrantfile",
]

log = logging.getLogger(__name__)

PROVIDER = "libvirt"
#: Tools a box build runs, and the Debian package of each (the "box" part of hostparts.toml).
TOOLS = hostparts.tools("box")
#: A box build needs about this much room in build/ and dist/ (rootfs, disk, box).
MIN_FREE_BYTES = 4 * 10**9
STAGES = 5


@dataclass
class BoxResult:
    """What a build produced and what it cost."""

    name: str
    version: str
    box: Path
    catalog: Path
    accel: str
    stages: dict[str, float] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)


def box_file_name(box: BoxDefinition) -> str:
    return f"{box.name}-{PROVIDER}.box"


def dist_boxes() -> Path:
    """Where built boxes and their catalogs go: ``dist/boxes/``."""
    return paths.dist_dir() / "boxes"


def work_boxes() -> Path:
    """The box builds' work files: ``build/boxes/``."""
    return paths.build_dir() / "boxes"


def catalog_path(box: BoxDefinition, dist: Path | None = None) -> Path:
    return (dist or dist_boxes()) / f"{box.name}.json"


def metadata(box: BoxDefinition) -> dict[str, Any]:
    """vagrant-libvirt's ``metadata.json``: the disk format and its size in whole GB."""
    return {"provider": PROVIDER, "format": "qcow2", "virtual_size": box.disk_gb}


def render_vagrantfile(box: BoxDefinition, version: str) -> str:
    return render_template("box/Vagrantfile.j2", template_context(box, version))


def build_box(
    name: str,
    *,
    boxes_dir: Path | None = None,
    dist: Path | None = None,
    work: Path | None = None,
) -> BoxResult:
    """Build ``boxes_dir/name`` into ``dist/name/<version>/`` and add it to ``dist/name.json``."""
    started = time.monotonic()
    dist, work = dist or dist_boxes(), work or work_boxes()
    box = load_box(name, boxes_dir)
    _check_tools()
    box_work = work / box.name
    catalog_file = catalog_path(box, dist)
    catalog = read_catalog(catalog_file, box.box_name, box.description)
    version = build_version(box.version, catalog, datetime.datetime.now(datetime.UTC))
    if is_dry():
        return _plan(box, version, box_work, catalog_file, detect_accel())
    for directory in (box_work, dist, dist / box.name):
        remove_stale_temporaries(directory)
    box_work.mkdir(parents=True, exist_ok=True)
    _check_space(box_work, dist)
    accel = detect_accel()
    log.info("box %s %s: %s GB disk, VMs under %s (%s)", box.box_name, version, box.disk_gb, accel.name,
             accel.reason)
    result = BoxResult(box.name, version, Path(), catalog_file, accel.name)
    try:
        rootfs = box_work / "rootfs.tar"
        _rootfs_and_customise(box, version, rootfs, box_work, result)
        disk = box_work / "disk.qcow2"
        with _stage(3, _DISK, result):
            _disk(box, rootfs, disk, accel)
        target = dist / box.name / version
        with _stage(4, f"package {box_file_name(box)}", result):
            box_path = _package(box, version, disk, target, box_work, accel, result)
        with _stage(5, f"catalog {catalog_file.name}", result):
            checksum = sha256_file(box_path)
            entry = provider_entry(box_path, checksum)
            write_catalog(catalog_file, add_version(catalog, version, entry, box.description))
    except OSError as error:
        if error.errno == errno.ENOSPC:
            raise BuildError(f"no space left on the device holding {error.filename or work}") from None
        raise
    result.box = box_path
    result.sizes["box"] = box_path.stat().st_size
    total = time.monotonic() - started
    (target / "build.json").write_text(json.dumps(_report(result, total), indent=2) + "\n")
    log.info(
        "built %s %s in %.0f s: %s (%.0f MB; qcow2 %s GB virtual, %.0f MB used)\n"
        "add it with: vagrant box add %s",
        box.box_name, version, total, box_path, result.sizes["box"] / 1e6, box.disk_gb,
        result.sizes["disk_actual"] / 1e6, catalog_file,
    )
    return result


_ROOTFS = "rootfs: mmdebstrap {suite} from {mirror}"
_CUSTOMISE = "customise: files, users, services, first-boot identity"
_DISK = "disk: qcow2, msdos label, LVM, ext4, grub (libguestfs)"


@contextlib.contextmanager
def _stage(number: int, title: str, result: BoxResult | None = None) -> Iterator[Step]:
    """Stage ``number`` as a progress step; its seconds go to ``result.stages`` under its first word."""
    with step(f"[{number}/{STAGES}] {title}", short=f"[{number}/{STAGES}]") as current:
        yield current
    if result is not None:
        result.stages[title.split(" ")[0].rstrip(":")] = round(current.seconds, 1)


def _plan(box: BoxDefinition, version: str, work: Path, catalog_file: Path, accel: Accel) -> BoxResult:
    """Dry run: each stage logs the commands it would run, with the paths it would use; nothing is written."""
    log.info("box %s %s: %s GB disk, VMs under %s (%s); dry run, nothing is built",
             box.box_name, version, box.disk_gb, accel.name, accel.reason)
    overlay, rootfs, disk = work / "overlay" / "rootfs", work / "rootfs.tar", work / "disk.qcow2"
    box_path = catalog_file.parent / box.name / version / box_file_name(box)
    with _stage(1, _ROOTFS.format(suite=box.suite, mirror=box.mirror) + " + [2/5] " + _CUSTOMISE):
        note("would render the overlay (files, users, services) into %s", overlay)
        if box.preload_images:
            note("would save %s from the Docker engine for first boot", ", ".join(box.preload_images))
        run(mmdebstrap_argv(box, overlay, overlay.parent / "customize.sh", rootfs),
            env={"SOURCE_DATE_EPOCH": str(source_date_epoch())})
    with _stage(3, _DISK):
        run(create_argv(disk, box.disk_gb))
        stream(["guestfish", "--no-progress-bars"], env=accel.libguestfs_env(),
               input=guestfish_script(disk_layout(box), disk, rootfs, max(1, min(2, os.cpu_count() or 1))))
    with _stage(4, f"package {box_file_name(box)}"):
        run(compress_argv(disk, work / "box.img", box.compression))
        note("would write %s (metadata.json, Vagrantfile, info.json, box.img)", box_path)
    with _stage(5, f"catalog {catalog_file.name}"):
        note("would add version %s to %s", version, catalog_file)
    return BoxResult(box.name, version, box_path, catalog_file, accel.name)


def _check_tools() -> None:
    require(*TOOLS)
    if not any(Path("/boot").glob("vmlinuz-*")):
        raise ToolMissing("a Linux kernel in /boot (libguestfs boots it)", "linux-image-amd64")


def _check_space(*paths: Path) -> None:
    for path in paths:
        path.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(path).free
        if free < MIN_FREE_BYTES:
            raise BuildError(
                f"only {free / 1e9:.1f} GB free in {path}; a box build needs {MIN_FREE_BYTES / 1e9:.0f} GB"
            )


def _rootfs_and_customise(
    box: BoxDefinition, version: str, rootfs: Path, work: Path, result: BoxResult
) -> None:
    """Stages 1 and 2 are one mmdebstrap run: the switch is its first customize hook."""
    switched = False
    with _stage(1, _ROOTFS.format(suite=box.suite, mirror=box.mirror)) as current:
        with tempfile.TemporaryDirectory(prefix="overlay-", dir=work) as tmp, atomic_file(rootfs) as out:
            script = render_overlay(box, version, Path(tmp) / "rootfs", source_date_epoch())
            if box.preload_images:
                saved = save_images(box.preload_images, Path(tmp) / "rootfs")
                result.sizes["preload_images"] = saved
                note("saved %s for first boot (%.0f MB)", ", ".join(box.preload_images), saved / 1e6)
            argv = mmdebstrap_argv(box, Path(tmp) / "rootfs", script, out)

            def watch(line: str) -> None:
                nonlocal switched
                if not switched and line.startswith("I: running --customize-hook"):
                    switched = True
                    seconds = current.next(f"[2/{STAGES}] {_CUSTOMISE}", short=f"[2/{STAGES}]")
                    result.stages["rootfs"] = round(seconds, 1)
                elif line.startswith("customize: "):
                    note("%s", line.rstrip())

            stream(argv, on_line=watch, env={"SOURCE_DATE_EPOCH": str(source_date_epoch())},
                   what="mmdebstrap")
        result.sizes["rootfs_tar"] = rootfs.stat().st_size
        current.detail = f"rootfs {result.sizes['rootfs_tar'] / 1e6:.0f} MB"
    result.stages["customise"] = round(current.seconds, 1)


def _disk(box: BoxDefinition, rootfs: Path, disk: Path, accel: Accel) -> None:
    with atomic_file(disk) as tmp:
        run(create_argv(tmp, box.disk_gb), what="qemu-img create")
        smp = max(1, min(2, os.cpu_count() or 1))
        script = guestfish_script(disk_layout(box), tmp, rootfs, smp)
        current = {"title": "", "since": time.monotonic()}

        def step(title: str) -> None:
            """Report the step that just ended, with its duration."""
            now = time.monotonic()
            if current["title"]:
                note("%s: %.1f s", current["title"], now - float(current["since"]))
            current.update(title=title, since=now)

        run_guestfish(script, accel, watch=tmp, on_step=step)


def _package(
    box: BoxDefinition, version: str, disk: Path, target: Path, work: Path, accel: Accel,
    result: BoxResult,
) -> Path:
    """The .box: a tar of metadata.json, Vagrantfile, info.json and the compressed box.img."""
    with tempfile.TemporaryDirectory(prefix="package-", dir=work) as tmp:
        image = Path(tmp) / "box.img"
        run(compress_argv(disk, image, box.compression), what="qemu-img convert")
        result.sizes["disk_actual"] = _qemu_info(disk)["actual-size"]
        result.sizes["disk_virtual"] = _qemu_info(image)["virtual-size"]
        result.sizes["box_img"] = image.stat().st_size
        members = {
            "metadata.json": json.dumps(metadata(box), indent=2) + "\n",
            "Vagrantfile": render_vagrantfile(box, version),
            "info.json": json.dumps(_info(box, version, accel), indent=2) + "\n",
        }
        with atomic_dir(target) as out:
            box_path = out / box_file_name(box)
            mtime = source_date_epoch()
            with tarfile.open(box_path, "w", format=tarfile.GNU_FORMAT) as tar:
                for member, text in members.items():
                    data = text.encode()
                    info = tarfile.TarInfo(member)
                    info.size, info.mtime, info.mode = len(data), mtime, 0o644
                    tar.addfile(info, io.BytesIO(data))
                info = tar.gettarinfo(str(image), "box.img")
                info.mtime, info.uid, info.gid, info.uname, info.gname = mtime, 0, 0, "root", "root"
                with image.open("rb") as handle:
                    tar.addfile(info, handle)
    return target / box_file_name(box)


def _info(box: BoxDefinition, version: str, accel: Accel) -> dict[str, Any]:
    """``info.json`` (shown by ``vagrant box list -i``): where the box came from."""
    return {
        "name": box.box_name,
        "version": version,
        "description": box.description,
        "suite": box.suite,
        "built_by": f"boxwright {__version__}",
        "git_revision": git_revision(),
        "git_dirty": git_dirty(),
        "built_at": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "accelerator": accel.name,
    }


def _report(result: BoxResult, total: float) -> dict[str, Any]:
    return {
        "name": result.name,
        "version": result.version,
        "accelerator": result.accel,
        "stages_seconds": result.stages,
        "total_seconds": round(total, 1),
        "sizes_bytes": result.sizes,
    }


def _qemu_info(path: Path) -> dict[str, Any]:
    output = run(["qemu-img", "info", "--output=json", str(path)], what="qemu-img info").output
    return json.loads(output)
