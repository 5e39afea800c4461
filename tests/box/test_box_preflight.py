"""Before any work: a missing host tool or a nearly full disk is one clear line, and nothing is written."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from boxwright.box.build import TOOLS, build_box
from boxwright.errors import BuildError, ToolMissing

FIXTURES = Path(__file__).parent.parent / "fixtures" / "boxes"


def test_missing_tool_names_its_debian_package(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with none of the tools
    with pytest.raises(ToolMissing) as caught:
        build_box("tiny", boxes_dir=FIXTURES, dist=tmp_path / "dist", work=tmp_path / "work", echo=False)
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
        build_box("tiny", boxes_dir=FIXTURES, dist=small_filesystem / "dist",
                  work=small_filesystem / "work", echo=False)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("only 0.0 GB free in ") and "a box build needs 4 GB" in message
    assert not list((small_filesystem / "dist").rglob("*.box"))
