"""GRUB's EFI image for UEFI boxes: its embedded configuration and a rootfs without GRUB's modules."""

from __future__ import annotations

import io
import tarfile

import pytest

from boxwright.box.definition import load_box
from boxwright.box.efi import early_config, grub_mkimage_argv, make_efi_binary
from boxwright.errors import BuildError


@pytest.fixture
def arm64_box(write_box):
    return load_box("sample", write_box('version = "1.0"\narch = "arm64"\n[lvm]\nvg = "vg0"\nroot = "lv0"\n'))


def test_the_image_finds_the_root_lv_and_reads_its_grub_cfg(arm64_box, tmp_path):
    assert early_config(arm64_box).splitlines() == [
        "set root=(lvm/vg0-lv0)", "set prefix=($root)/boot/grub", "configfile $prefix/grub.cfg"]
    argv = grub_mkimage_argv(arm64_box, tmp_path / "m", tmp_path / "e.cfg", tmp_path / "BOOTAA64.EFI")
    assert argv[:9] == ["grub-mkimage", "--directory", str(tmp_path / "m"), "--format", "arm64-efi",
                        "--output", str(tmp_path / "BOOTAA64.EFI"), "--config", str(tmp_path / "e.cfg")]
    assert {"part_gpt", "lvm", "ext2", "linux"} <= set(argv)


def test_a_rootfs_without_grub_modules_is_one_line_and_leaves_nothing(arm64_box, tmp_path):
    rootfs = tmp_path / "rootfs.tar"
    with tarfile.open(rootfs, "w") as tar:
        info = tarfile.TarInfo("./etc/hostname")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"box\n"))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(BuildError) as caught:
        make_efi_binary(arm64_box, rootfs, out / "BOOTAA64.EFI")
    assert str(caught.value) == f"{rootfs}: no GRUB arm64-efi modules (is grub-efi-arm64 in it?)"
    assert list(out.iterdir()) == []
