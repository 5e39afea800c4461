"""The box build: preflight (a missing host tool or a nearly full disk is one clear line, and nothing is
written), the Vagrantfile and the box metadata."""

from __future__ import annotations

import json
import subprocess

import pytest

from boxwright.box.build import TOOLS, box_file_name, build_box, metadata, render_vagrantfile
from boxwright.errors import BuildError, ToolMissing
from support import FIXTURES

BOXES = FIXTURES / "boxes"


def test_missing_tool_names_its_debian_package(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with none of the tools
    with pytest.raises(ToolMissing) as caught:
        build_box("tiny", boxes_dir=BOXES, dist=tmp_path / "dist", work=tmp_path / "work")
    tool = next(iter(TOOLS))
    assert str(caught.value) == f"'{tool}' not found: install the Debian package '{TOOLS[tool]}'"
    assert not (tmp_path / "dist").exists()


@pytest.fixture
def small_filesystem(tmp_path):
    """A real 16 MB filesystem (tmpfs), far too small for a box."""
    mountpoint = tmp_path / "small"
    mountpoint.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mountpoint)], check=True)
    yield mountpoint
    subprocess.run(["umount", str(mountpoint)], check=True)


def test_full_disk_is_one_line_before_any_work(small_filesystem):
    with pytest.raises(BuildError) as caught:
        build_box("tiny", boxes_dir=BOXES, dist=small_filesystem / "dist",
                  work=small_filesystem / "work")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("only 0.0 GB free in ") and "a box build needs 4 GB" in message
    assert not list((small_filesystem / "dist").rglob("*.box"))


VERSION = "0.3.20250101000000"


def test_vagrantfile_matches_golden(tiny, golden):
    assert render_vagrantfile(tiny, VERSION) == (golden / "tiny.Vagrantfile").read_text()


def test_vagrantfile_leaves_the_driver_to_the_project(tiny):
    text = render_vagrantfile(tiny, VERSION)
    assert "driver" not in text.replace("hypervisor driver", "")
    assert "libvirt.cpus = 1" in text and "libvirt.memory = 512" in text
    assert 'libvirt.disk_bus = "scsi"' in text


def test_metadata(tiny):
    assert metadata(tiny) == {"provider": "libvirt", "format": "qcow2", "virtual_size": 4}
    assert box_file_name(tiny, VERSION, "libvirt") == f"tiny-{VERSION}-libvirt-amd64.box"
    assert box_file_name(tiny, VERSION, "virtualbox") == f"tiny-{VERSION}-virtualbox-amd64.box"


def test_metadata_is_json_serialisable(tiny):
    assert json.loads(json.dumps(metadata(tiny)))["virtual_size"] == 4
