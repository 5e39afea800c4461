"""`invoke bench --quick --only box` runs in the suite (after the box was built) so it never rots."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from boxwright.bench import run_bench
from boxwright.bench.box import BOX
from support.vm import BOXES

# A benchmark too (`vm` comes from the folder), of the box the bench measures.
pytestmark = [pytest.mark.bench,
              pytest.mark.parametrize("box_definition", [b for b in BOXES if b == BOX], indirect=True)]


def test_box_group_records_build_stages_sizes_and_boot(catalog, vms):
    """With the suite's VMs up: the bench boots the same version too, and its clean-up must leave
    the pool volume their disks are backed by."""
    path = run_bench(quick=True, only="box")
    try:
        results = json.loads(path.read_text())
    finally:
        path.unlink()
    figures = {(m["name"], m["variant"]): m for m in results["metrics"]}
    names = {name for name, _ in figures}
    assert {"build stage: rootfs", "build stage: disk", "build: cold (every stage)", "build: no-op rebuild",
            "qcow2 virtual size", "vagrant up → SSH ready (incl. pool upload)"} <= names
    assert {(".box size", "libvirt"), (".box size", "virtualbox"), ("packaging time", "libvirt"),
            ("packaging time", "virtualbox")} <= set(figures)
    assert figures[("build: no-op rebuild", "docker-host")]["note"].startswith("reused ")
    assert all(m["samples"] for m in figures.values())
    assert results["machine"]["box accelerator"].split()[0] in ("kvm", "tcg")
    disks = subprocess.run(["virsh", "-c", "qemu:///system", "domblklist", f"{vms.root.name}_one"],
                           capture_output=True, text=True, check=True).stdout.splitlines()[2:]
    disk = next(line.split()[1] for line in disks if line.strip())
    info = ["qemu-img", "info", "--force-share", "--backing-chain", "--output=json", disk]
    chain = json.loads(subprocess.run(info, capture_output=True, text=True, check=True).stdout)
    assert len(chain) == 2 and all(Path(image["filename"]).is_file() for image in chain), chain
