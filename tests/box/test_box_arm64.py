"""The shipped arm64 box, built for real on this amd64 host: its packages configure under QEMU user
emulation, its disk is GPT with an EFI system partition holding GRUB at the removable path, root on
LVM.  tests/vm/ boots it under TCG with Vagrant and runs the box checks on it."""

from __future__ import annotations

import json
import struct
import subprocess
import tarfile
from pathlib import Path

import pytest

from boxwright.box.build import BoxResult, build_box, stage_cache
from boxwright.box.definition import BoxDefinition, load_box
from support.guestfish import guestfish_sections

pytestmark = pytest.mark.arm64
NAME = "docker-host-arm64"
#: The PE/COFF machine type of an AArch64 image.
IMAGE_FILE_MACHINE_ARM64 = 0xAA64


@pytest.fixture(scope="module")
def box() -> BoxDefinition:
    return load_box(NAME)


@pytest.fixture(scope="module")
def built(box) -> BoxResult:
    """Built through boxwright (stages reused from the machine's cache when nothing changed)."""
    return build_box(NAME)


INSPECT = """\
add {disk} readonly:true format:qcow2
run
echo ==parttype
part-get-parttype /dev/sda
echo ==partitions
list-partitions
echo ==esp-type
part-get-gpt-type /dev/sda 1
echo ==esp-fs
vfs-type /dev/sda1
echo ==esp-label
vfs-label /dev/sda1
echo ==pvs
pvs
mount-ro /dev/{vg}/{root} /
mount-ro /dev/sda1 /boot/efi
echo ==efi
find /boot/efi
download /boot/efi/EFI/BOOT/BOOTAA64.EFI {efi}
echo ==bash
file /usr/bin/bash
echo ==boot
ls /boot
echo ==initrd-link
readlink /initrd.img
echo ==fstab
cat /etc/fstab
echo ==grub-cfg
cat /boot/grub/grub.cfg
"""


@pytest.fixture(scope="module")
def inside(built, box, tmp_path_factory) -> dict[str, str]:
    """The disk the .box was packed from, read by a read-only guestfish session, by section."""
    out = tmp_path_factory.mktemp("arm64-inspect")
    assert built.keys is not None
    disk = stage_cache(NAME).path("disk", built.keys.disk, ".qcow2")
    script = INSPECT.format(disk=disk, efi=out / "BOOTAA64.EFI", vg=box.lvm.vg, root=box.lvm.root)
    result = guestfish_sections(script)
    result["efi-binary"] = (out / "BOOTAA64.EFI").read_bytes().hex()
    return result


def test_the_box_catalog_and_metadata_say_arm64(built):
    assert built.box.name == f"{NAME}-{built.version}-libvirt-arm64.box"
    catalog = json.loads(built.catalog.read_text())
    version = next(v for v in catalog["versions"] if v["version"] == built.version)
    assert [(p["name"], p["architecture"]) for p in version["providers"]] == [("libvirt", "arm64")]
    with tarfile.open(built.box) as tar:
        info = json.load(tar.extractfile("info.json"))  # type: ignore[arg-type]
        vagrantfile = tar.extractfile("Vagrantfile").read().decode()  # type: ignore[union-attr]
    assert info["architecture"] == "arm64"
    assert 'libvirt.machine_arch = "aarch64"' in vagrantfile


def test_gpt_with_an_efi_system_partition_and_lvm_on_the_second(inside):
    assert inside["parttype"] == "gpt"
    assert inside["partitions"].split() == ["/dev/sda1", "/dev/sda2"]
    assert inside["esp-type"] == "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
    assert (inside["esp-fs"], inside["esp-label"]) == ("vfat", "EFI")
    assert inside["pvs"] == "/dev/sda2"


def test_grub_is_an_aarch64_efi_binary_at_the_removable_path_that_finds_the_root_lv(inside, box):
    assert "/EFI/BOOT/BOOTAA64.EFI" in inside["efi"].splitlines()  # find lists paths from the ESP root
    binary = bytes.fromhex(inside["efi-binary"])
    assert binary[:2] == b"MZ"
    pe = struct.unpack_from("<I", binary, 0x3C)[0]
    assert binary[pe:pe + 4] == b"PE\0\0"
    assert struct.unpack_from("<H", binary, pe + 4)[0] == IMAGE_FILE_MACHINE_ARM64
    assert f"set root=(lvm/{box.lvm.vg}-{box.lvm.root})".encode() in binary


def test_the_userland_is_aarch64_with_one_initramfs_made_in_customise(inside):
    assert "ARM aarch64" in inside["bash"]
    boot = inside["boot"].split()
    initrds = [name for name in boot if name.startswith("initrd.img-")]
    assert len(initrds) == 1 and initrds[0].endswith("-cloud-arm64"), boot
    assert inside["initrd-link"] == f"boot/{initrds[0]}"


def test_fstab_and_grub_cfg_are_the_uefi_ones(inside):
    assert "LABEL=EFI  /boot/efi  vfat" in inside["fstab"]
    grub = inside["grub-cfg"]
    assert "console=ttyAMA0,115200" in grub and "insmod" not in grub


def test_no_emulator_or_temporary_file_is_left(built):
    stages = stage_cache(NAME).root
    assert not [p for p in stages.iterdir() if p.name.startswith((".boxwright-tmp-", "efi-"))]
    running = subprocess.run(["pgrep", "-f", "qemu-aarch64|aarch64-binfmt"], capture_output=True, text=True)
    assert running.stdout == ""
    assert Path(built.catalog).is_file()
