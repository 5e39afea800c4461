"""Boot the newest docker-host box twice with real Vagrant (vagrant-libvirt) for the VM checks.

Two VMs come from the same box so the tests can prove each gets its own
machine-id and SSH host keys.  Everything is destroyed and removed afterwards,
whatever happens (see boxwright.box.boot).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import testinfra

from boxwright import PROJECT_ROOT
from boxwright.bench.box import last_test_box
from boxwright.box.accel import detect_accel
from boxwright.box.boot import booted_box
from boxwright.box.definition import load_box

BOX = os.environ.get("BOXWRIGHT_TEST_BOX", "docker-host")
MACHINES = ("one", "two")


@pytest.fixture(scope="session")
def box_definition():
    return load_box(BOX)


@pytest.fixture(scope="session")
def catalog(box_definition) -> Path:
    """The box catalog; built first when this checkout has none."""
    path = PROJECT_ROOT / "dist" / "boxes" / f"{BOX}.json"
    if not path.is_file():
        from boxwright.box.build import build_box

        build_box(BOX)
    return path


@pytest.fixture(scope="session")
def vms(catalog, request):
    accel = detect_accel()
    started = time.monotonic()
    with booted_box(catalog, machines=MACHINES, driver=accel.libvirt_driver) as booted:
        print(f"test-box: {booted.name} {booted.version} up in {booted.up_seconds:.1f} s ({accel.name})")
        yield booted
    # For `invoke bench` (box group): how long booting, checking and cleaning up took.
    vm_tests = [item for item in request.session.items if item.get_closest_marker("vm")]
    record = {"seconds": round(time.monotonic() - started, 1), "tests": len(vm_tests),
              "up_seconds": round(booted.up_seconds, 1), "accelerator": accel.name,
              "version": booted.version}
    last_test_box().parent.mkdir(parents=True, exist_ok=True)
    last_test_box().write_text(json.dumps(record) + "\n")


@pytest.fixture(scope="session")
def host(vms):
    return testinfra.get_host(vms.testinfra_spec("one"), ssh_config=str(vms.ssh_configs["one"]))


@pytest.fixture(scope="session")
def other_host(vms):
    return testinfra.get_host(vms.testinfra_spec("two"), ssh_config=str(vms.ssh_configs["two"]))
