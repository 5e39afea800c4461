"""The streamOptimized writer against qemu-img's own: the same bytes but for the CID line.

Each disk is made with qemu-img and written both ways; the two files must be equal
once the descriptor's ``CID=`` (random in qemu-img) is blanked, read back as the
same disk (``qemu-img compare``) and pass ``qemu-img check``.  The box-sized case
(the tiny box's real disk) is in tests/box/test_box_build.py.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from boxwright.box.package import qemu_info
from boxwright.box.vmdk import GRAIN, write_stream_optimized
from support.vmdk import qemu_img_vmdk, without_cid

MIB = 1024**2


def _qemu_img(*argv: str) -> None:
    subprocess.run(["qemu-img", *argv], check=True, capture_output=True)


def _raw(tmp_path: Path, size: int, writes: list[tuple[int, bytes]]) -> Path:
    raw = tmp_path / "disk.raw"
    with raw.open("wb") as handle:
        handle.truncate(size)
        for offset, data in writes:
            handle.seek(offset)
            handle.write(data)
    return raw


@pytest.fixture
def both(tmp_path: Path) -> Callable[[Path], tuple[Path, Path]]:
    def write(source: Path) -> tuple[Path, Path]:
        (tmp_path / "qemu").mkdir(exist_ok=True)
        (tmp_path / "ours").mkdir(exist_ok=True)
        theirs, ours = tmp_path / "qemu" / "box-disk001.vmdk", tmp_path / "ours" / "box-disk001.vmdk"
        qemu_img_vmdk(source, theirs)
        written = write_stream_optimized(source, ours, workers=2)
        assert written.size == ours.stat().st_size
        assert written.capacity == int(qemu_info(source)["virtual-size"])
        return theirs, ours

    return write


TEXT = b"boxwright streams grains " * 400
CASES = {
    "empty": (64 * MIB, []),
    "scattered": (300 * MIB, [(0, os.urandom(70_000) + TEXT), (3 * GRAIN + 100, TEXT * 3),
                              (100 * MIB + 7, TEXT), (299 * MIB, TEXT)]),
    # the last grain incompressible: the file ends with its data, not a grain after its start
    "incompressible-tail": (128 * MIB, [(128 * MIB - GRAIN - 300, os.urandom(GRAIN + 300))]),
    # allocated but zero grains are left out, as qemu-img leaves them out
    "written-zeros": (64 * MIB, [(0, bytes(4 * GRAIN)), (5 * GRAIN, TEXT)]),
    # a disk larger than one grain table's reach and a grain directory of several sectors
    "large": (40 * 1024 * MIB, [(39 * 1024 * MIB, TEXT), (GRAIN * 512 * 130, TEXT)]),
}


@pytest.mark.parametrize("fmt", ["qcow2", "raw"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_same_bytes_as_qemu_img(case, fmt, tmp_path, both):
    size, writes = CASES[case]
    source = _raw(tmp_path, size, writes)
    if fmt == "qcow2":
        _qemu_img("convert", "-O", "qcow2", str(source), str(tmp_path / "disk.qcow2"))
        source = tmp_path / "disk.qcow2"
    theirs, ours = both(source)
    assert without_cid(ours) == without_cid(theirs)
    _qemu_img("compare", str(source), str(ours))
    _qemu_img("check", str(ours))


def test_cid_follows_the_content(tmp_path):
    """The same disk gives the same file (a reproducible box); another disk another CID."""
    source = _raw(tmp_path, 8 * MIB, [(0, TEXT)])

    def write(name: str) -> bytes:
        (tmp_path / name).mkdir()
        write_stream_optimized(source, tmp_path / name / "box-disk001.vmdk")
        return (tmp_path / name / "box-disk001.vmdk").read_bytes()

    first, again = write("first"), write("again")
    assert first == again
    with source.open("r+b") as handle:
        handle.seek(GRAIN)
        handle.write(TEXT)
    cids = {re.search(rb"CID=([0-9a-f]+)", data).group(1) for data in (first, write("changed"))}
    assert len(cids) == 2


def test_refuses_a_disk_that_is_not_whole_grains(tmp_path):
    source = _raw(tmp_path, GRAIN * 3 + 512, [])
    with pytest.raises(ValueError, match="not a whole number of 64 KiB grains"):
        write_stream_optimized(source, tmp_path / "out.vmdk")


def test_refuses_an_overlay(tmp_path):
    base = _raw(tmp_path, 8 * MIB, [(0, TEXT)])
    _qemu_img("create", "-f", "qcow2", "-F", "raw", "-b", str(base), str(tmp_path / "top.qcow2"))
    with pytest.raises(ValueError, match="a plain qcow2 image is needed"):
        write_stream_optimized(tmp_path / "top.qcow2", tmp_path / "out.vmdk")
