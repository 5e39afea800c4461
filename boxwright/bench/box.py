"""The box group: build time per stage, sizes, and `vagrant up` → SSH for the docker-host box.

A full run builds a fresh box; ``--quick`` reuses the newest one already built
(the test suite has just built and booted it) so only the boot is timed again.
"""

from __future__ import annotations

import json
from pathlib import Path

from boxwright.bench.record import Recorder
from boxwright.box.accel import detect_accel
from boxwright.box.boot import booted_box, newest_version, work_dir

__all__ = ["bench_box", "last_test_box"]

BOX = "docker-host"
MB = 1e6


def last_test_box() -> Path:
    """Written by the test-box session (tests/vm/conftest.py): how long the whole run took."""
    return work_dir() / "last-run.json"


def bench_box(rec: Recorder, name: str = BOX) -> None:
    """Build (unless --quick finds a box), record stages and sizes, boot once and time SSH."""
    from boxwright.box.build import dist_boxes

    catalog = dist_boxes() / f"{name}.json"
    if rec.quick and catalog.is_file():
        version = newest_version(catalog)[1]
        build = json.loads((catalog.parent / name / version / "build.json").read_text())
        note = "newest existing build (--quick)"
    else:
        from boxwright.box.build import build_box

        result = build_box(name)
        version = result.version
        build = json.loads((result.box.parent / "build.json").read_text())
        note = ""
    accel = detect_accel()
    rec.facts["box accelerator"] = f"{accel.name} ({accel.reason})"
    for stage, seconds in build["stages_seconds"].items():
        rec.add("box", f"build stage: {stage}", name, "s", [seconds], note=note)
    rec.add("box", "build total", name, "s", [build["total_seconds"]], note=f"{build['accelerator']}")
    sizes = build["sizes_bytes"]
    rec.add("box", "box file size", name, "MB", [sizes["box"] / MB])
    rec.add("box", "qcow2 actual size", name, "MB", [sizes["disk_actual"] / MB])
    rec.add("box", "qcow2 virtual size", name, "MB", [sizes["disk_virtual"] / MB])
    with booted_box(catalog, machines=("default",), driver=accel.libvirt_driver) as vm:
        rec.add("box", "vagrant up → SSH ready (incl. pool upload)", name, "s", [vm.up_seconds],
                note=f"{accel.name}, version {version}")
    last = _last_test_box()
    if last:
        rec.add("box", "test-box total (last run)", name, "s", [last["seconds"]],
                note=f"{last['tests']} checks, 2 VMs")


def _last_test_box() -> dict[str, float] | None:
    path = last_test_box()
    return json.loads(path.read_text()) if path.is_file() else None
