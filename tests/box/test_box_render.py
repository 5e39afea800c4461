"""What goes into a box besides the disk: Vagrantfile, metadata, rendered rootfs files, commands."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from boxwright.box.accel import ACCEL_ENV, Accel, detect_accel, kvm_probe_argv
from boxwright.box.build import box_file_name, metadata, render_vagrantfile
from boxwright.box.definition import load_box
from boxwright.box.disk import compress_argv, create_argv, disk_layout, guestfish_script
from boxwright.box.preload import preload_file_name, save_images
from boxwright.box.rootfs import (
    box_packages,
    kernel_cmdline,
    mmdebstrap_argv,
    render_overlay,
    template_context,
)
from boxwright.errors import BoxwrightError, BuildError

VERSION = "0.3.20250101000000"


@pytest.fixture
def tiny(box_fixtures):
    return load_box("tiny", box_fixtures)


def test_vagrantfile_matches_golden(tiny, golden):
    assert render_vagrantfile(tiny, VERSION) == (golden / "tiny.Vagrantfile").read_text()


def test_vagrantfile_leaves_the_driver_to_the_project(tiny):
    text = render_vagrantfile(tiny, VERSION)
    assert "driver" not in text.replace("hypervisor driver", "")
    assert "libvirt.cpus = 1" in text and "libvirt.memory = 512" in text
    assert 'libvirt.disk_bus = "scsi"' in text


def test_metadata(tiny):
    assert metadata(tiny) == {"provider": "libvirt", "format": "qcow2", "virtual_size": 4}
    assert box_file_name(tiny) == "tiny-libvirt.box"


@pytest.fixture
def overlay(tiny, tmp_path) -> tuple[Path, Path]:
    target = tmp_path / "overlay" / "rootfs"
    script = render_overlay(tiny, VERSION, target, 1_700_000_000)
    return target, script


def test_overlay_has_rootfs_files_and_rendered_ones(overlay):
    target, _ = overlay
    assert (target / "etc" / "boxwright-fixture").read_text() == "tiny fixture box\n"
    assert "UseDNS no" in (target / "etc" / "ssh" / "sshd_config.d" / "10-boxwright.conf").read_text()
    assert (target / "etc" / "systemd" / "network" / "90-boxwright-eth0.network").is_file()
    fstab = (target / "etc" / "fstab").read_text()
    assert "/dev/mapper/tinyvg-rootlv  /     ext4" in fstab
    assert "/dev/mapper/tinyvg-swaplv  none  swap" in fstab
    grub = (target / "boot" / "grub" / "grub.cfg").read_text()
    assert "set root=(lvm/tinyvg-rootlv)" in grub
    assert "root=/dev/mapper/tinyvg-rootlv ro console=tty0 console=ttyS0,115200n8" in grub
    default = (target / "etc" / "default" / "grub").read_text()
    assert 'cgroup_enable=memory swapaccount=1"' in default
    assert {p.stat().st_mtime for p in target.rglob("*")} == {1_700_000_000}


def test_customise_script(overlay):
    _, script = overlay
    text = script.read_text()
    assert "passwd --lock root" in text
    assert 'useradd --create-home --shell "/bin/bash" --groups "docker" "vagrant"' in text
    assert 'useradd --create-home --shell "/bin/bash" "alice"' in text
    assert "vagrant insecure public key" in text
    assert 'echo "vagrant ALL=(ALL) NOPASSWD: ALL" > "/etc/sudoers.d/vagrant"' in text
    assert "/etc/sudoers.d/alice" not in text
    assert "systemctl enable systemd-networkd.service" in text and "docker.service" in text
    assert ": > /etc/machine-id" in text and "rm -f" in text and "ssh_host_" in text


def test_customise_script_passes_shellcheck(overlay):
    _, script = overlay
    shellcheck = Path(sys.executable).parent / "shellcheck"
    result = subprocess.run([str(shellcheck), "--shell=sh", "--severity=style", str(script)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_preload_unit_is_enabled_only_with_images(tiny, write_box):
    assert "boxwright-preload-images.service" in template_context(tiny, VERSION)["enable"]
    plain = load_box("sample", write_box('version = "1.0"\n'))
    assert "boxwright-preload-images.service" not in template_context(plain, VERSION)["enable"]
    assert preload_file_name("boxwright/baseimage:1.0") == "boxwright_baseimage_1.0.tar"


def test_missing_preload_image_is_one_line(tmp_path):
    with pytest.raises(BuildError, match="'boxwright-test/absent:0' is not in the Docker engine"):
        save_images(("boxwright-test/absent:0",), tmp_path)


def test_packages_and_cmdline(tiny):
    packages = box_packages(tiny)
    assert {"linux-image-cloud-amd64", "grub-pc", "lvm2", "openssh-server", "sudo", "docker.io",
            "docker-cli", "qemu-guest-agent", "rsync", "dbus", "less"} <= set(packages)
    assert packages == sorted(set(packages))
    assert kernel_cmdline(tiny).startswith("console=tty0 console=ttyS0,115200n8 ")


def test_mmdebstrap_argv(tiny, tmp_path):
    argv = mmdebstrap_argv(
        tiny, tmp_path / "o", tmp_path / "customize.sh", tmp_path / "r.tar", tmp_path / "c"
    )
    assert argv[0] == "mmdebstrap" and argv[-3:] == ["trixie", str(tmp_path / "r.tar"),
                                                     "http://deb.debian.org/debian"]
    assert "--variant=minbase" in argv and "--format=tar" in argv
    assert f"--customize-hook=sync-in {tmp_path / 'o'} /" in argv
    assert '--customize-hook=chroot "$1" sh /tmp/boxwright-customize.sh' in argv


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
        'command "grub-install --target=i386-pc --no-floppy /dev/sda"',
    ]:
        assert line in script.splitlines()


def test_accel_override(monkeypatch):
    monkeypatch.setenv(ACCEL_ENV, "tcg")
    assert detect_accel() == Accel("tcg", f"{ACCEL_ENV}=tcg")
    assert detect_accel().libvirt_driver == "qemu"
    assert detect_accel().libguestfs_env()["LIBGUESTFS_BACKEND_SETTINGS"] == "force_tcg"
    monkeypatch.setenv(ACCEL_ENV, "kvm")
    assert detect_accel().libvirt_driver == "kvm"
    assert "LIBGUESTFS_BACKEND_SETTINGS" not in detect_accel().libguestfs_env()
    monkeypatch.setenv(ACCEL_ENV, "fast")
    with pytest.raises(BoxwrightError, match="expected 'kvm' or 'tcg'"):
        detect_accel()


def test_kvm_probe_boots_a_kernel_under_kvm():
    argv = kvm_probe_argv(Path("/boot/vmlinuz-x"))
    assert argv[argv.index("-accel") + 1] == "kvm"
    assert argv[argv.index("-kernel") + 1] == "/boot/vmlinuz-x"
    assert "-no-reboot" in argv and "panic=-1" in argv[-1]


def test_metadata_is_json_serialisable(tiny):
    assert json.loads(json.dumps(metadata(tiny)))["virtual_size"] == 4
