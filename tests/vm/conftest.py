"""Boot the newest version of each shipped box twice with real Vagrant (vagrant-libvirt) for the VM checks.

Every check runs once per box (``docker-host``, and ``docker-host-arm64`` under TCG here; those
carry the ``arm64`` marker); ``BOXWRIGHT_TEST_BOX`` (``./kit test-box --box``) names one.
Two VMs come from the same box so the tests can prove each gets its own
machine-id and SSH host keys.  Everything is destroyed and removed afterwards,
whatever happens (see boxwright.box.boot).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import testinfra

from boxwright.bench.box import BOX as BENCH_BOX
from boxwright.bench.box import last_test_box
from boxwright.box.accel import detect_accel
from boxwright.box.boot import booted_box
from boxwright.box.build import catalog_path
from boxwright.box.definition import BoxDefinition, load_box
from support.vm import BOXES, emulated

MACHINES = ("one", "two")


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A check of a box of another architecture runs under emulation: it carries ``arm64``."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        name = callspec.params.get("box_definition") if callspec is not None else None
        if isinstance(name, str) and emulated(name):  # not an empty parameter set
            item.add_marker("arm64")


@pytest.fixture(scope="session", params=BOXES)
def box_definition(request) -> BoxDefinition:
    return load_box(request.param)


@pytest.fixture(scope="session")
def catalog(box_definition) -> Path:
    """The box catalog; built first when this checkout has none (stages come from the machine's cache)."""
    path = catalog_path(box_definition)
    if not path.is_file():
        from boxwright.box.build import build_box

        build_box(box_definition.name)
    return path


@pytest.fixture(scope="session")
def box_image(box_definition, request) -> str:
    """The image the VM's Docker runs: the baseimage for the box's architecture (arm64: built under
    QEMU user emulation, the ``arm64_image`` fixture)."""
    return request.getfixturevalue("arm64_image" if emulated(box_definition.name) else "baseimage")


@pytest.fixture(scope="session")
def vms(catalog, box_definition, request):
    accel = detect_accel()
    started = time.monotonic()
    with booted_box(catalog, machines=MACHINES, driver=accel.libvirt_driver) as booted:
        print(f"test-box: {booted.name} {booted.version} up in {booted.up_seconds:.1f} s ({accel.name})")
        yield booted
    if box_definition.name != BENCH_BOX:
        return
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
