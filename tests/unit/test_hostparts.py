"""hostparts.toml is the one list of host parts: kit's plan and the package's tool names come from it."""

from __future__ import annotations

import subprocess
import sys

import tasks
from boxwright import hostparts
from boxwright.box.build import TOOLS


def _plan(*argv: str) -> list[str]:
    """What kit asks for, the way kit asks (the file run as a script by the system python)."""
    done = subprocess.run([sys.executable, str(hostparts.__file__), "plan", *argv],
                          capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


def test_every_task_has_a_row_and_every_row_is_a_task():
    assert set(hostparts._load()[1]) == set(tasks.ns.task_names)


def test_registry_needs_only_the_registry():
    assert _plan("registry", "--port", "5001") == ["registry||local registry|docker-registry:docker-registry"]


def test_flags_and_unknown_tasks_need_nothing():
    assert _plan("--list") == []
    assert _plan("no-such-task") == []


def test_options_before_the_task_are_skipped():
    parts = [line.split("|")[0] for line in _plan("--dry", "build-box", "--name", "tiny")]
    assert parts == ["emulation", "box"]


def test_test_needs_every_part():
    assert [line.split("|")[0] for line in _plan("test")] == list(hostparts.parts())


def test_parts_with_a_daemon():
    lines = {line.split("|")[0]: line.split("|")[1] for line in _plan("test")}
    assert lines["docker"] == "docker" and lines["vm"] == "libvirt" and lines["box"] == ""


def test_box_tools_come_from_the_box_part():
    assert hostparts.tools("box") == TOOLS
    assert TOOLS["guestfish"] == "libguestfs-tools" and TOOLS["qemu-img"] == "qemu-utils"
    assert "linux-image-amd64" not in TOOLS.values()  # no command: kit asks dpkg, the build checks /boot


def test_package_for():
    assert hostparts.package_for("docker-registry") == "docker-registry"
    assert hostparts.package_for("virsh") == "libvirt-clients"
    assert hostparts.package_for("unlisted-tool") == "unlisted-tool"
