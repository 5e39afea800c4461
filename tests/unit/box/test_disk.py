"""The disk stage's commands: qemu-img and the guestfish script of the disk layout."""

from __future__ import annotations

import pytest

from boxwright.box.definition import load_box
from boxwright.box.disk import (
    compress_argv,
    copy_argv,
    create_argv,
    disk_layout,
    files_script,
    guestfish_script,
)


def test_disk_commands(tiny, tmp_path):
    assert create_argv(tmp_path / "d.qcow2", 4)[-2:] == [str(tmp_path / "d.qcow2"), "4G"]
    assert "compression_type=zlib" in compress_argv(tmp_path / "a", tmp_path / "b", "zlib")
    script = guestfish_script(disk_layout(tiny), tmp_path / "d.qcow2", tmp_path / "r.tar", 2)
    for line in [
        "part-init /dev/sda mbr",
        "pvcreate /dev/sda1",
        "vgcreate tinyvg /dev/sda1",
        "lvcreate swaplv tinyvg 256",
        "lvcreate-free rootlv tinyvg 100",
        "mkfs ext4 /dev/tinyvg/rootlv label:rootlv",
        f'tar-in "{tmp_path / "r.tar"}" / xattrs:true acls:true',
        'command "sh /tmp/boxwright-grub-install.sh tinyvg"',
    ]:
        assert line in script.splitlines()


def test_the_files_go_onto_a_copy_of_the_base_disk_in_a_short_run(tiny, tmp_path):
    base = guestfish_script(disk_layout(tiny), tmp_path / "d.qcow2", tmp_path / "r.tar", 2)
    assert not any(line.startswith("tar-in") and "f.tar" in line for line in base.splitlines())
    script = files_script(disk_layout(tiny), tmp_path / "d.qcow2", tmp_path / "f.tar", 2).splitlines()
    commands = [line for line in script if not line.startswith("echo ")]
    assert commands == [f'add "{tmp_path / "d.qcow2"}" format:qcow2 cachemode:unsafe', "set-smp 2",
                        "set-memsize 1024", "run", "mount /dev/tinyvg/rootlv /",
                        f'tar-in "{tmp_path / "f.tar"}" /', "umount-all", "shutdown"]
    assert copy_argv(tmp_path / "a", tmp_path / "b")[:3] == ["cp", "--reflink=auto", "--sparse=always"]


def test_a_uefi_disk_is_gpt_with_an_esp_holding_grub_at_the_removable_path(write_box, tmp_path):
    box = load_box("sample", write_box('version = "1.0"\narch = "arm64"\n'))
    layout = disk_layout(box)
    efi = tmp_path / "BOOTAA64.EFI"
    script = guestfish_script(layout, tmp_path / "d.qcow2", tmp_path / "r.tar", 2, efi).splitlines()
    commands = [line for line in script if not line.startswith("echo ")]
    assert commands[4:11] == [
        "part-init /dev/sda gpt",
        "part-add /dev/sda p 2048 526335",
        "part-add /dev/sda p 526336 -34",
        "part-set-gpt-type /dev/sda 1 C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
        "mkfs vfat /dev/sda1 label:EFI",
        "pvcreate /dev/sda2",
        "vgcreate boxwright /dev/sda2",
    ]
    assert commands[-6:] == ["mkdir-p /boot/efi", "mount /dev/sda1 /boot/efi", "mkdir-p /boot/efi/EFI/BOOT",
                             f'upload "{efi}" /boot/efi/EFI/BOOT/BOOTAA64.EFI', "umount-all", "shutdown"]
    assert not any("grub-install" in line for line in commands)
    with pytest.raises(ValueError):
        guestfish_script(layout, tmp_path / "d.qcow2", tmp_path / "r.tar", 2)
