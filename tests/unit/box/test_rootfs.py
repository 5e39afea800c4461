"""The box rootfs: the rendered overlay, its customise script, packages, kernel line, mmdebstrap."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from boxwright.box.definition import load_box
from boxwright.box.preload import preload_file_name
from boxwright.box.rootfs import (
    box_files_tar,
    box_packages,
    kernel_cmdline,
    mmdebstrap_argv,
    render_overlay,
    template_context,
)
from boxwright.errors import BoxwrightError

VERSION = "0.3.20250101000000"


@pytest.fixture
def overlay(tiny, tmp_path) -> tuple[Path, Path]:
    target = tmp_path / "overlay" / "rootfs"
    script = render_overlay(tiny, VERSION, target, 1_700_000_000)
    return target, script


def test_box_files_go_over_the_rootfs_as_a_tar_owned_by_root(tiny, tmp_path):
    out = tmp_path / "files.tar"
    assert box_files_tar(tiny, out, 1_700_000_000) == 2
    with tarfile.open(out) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert set(members) == {"etc", "etc/boxwright-fixture"}
        assert tar.extractfile("etc/boxwright-fixture").read() == b"tiny fixture box\n"
    assert {(m.uid, m.gid, m.uname, m.mtime) for m in members.values()} == {(0, 0, "root", 1_700_000_000)}


def test_overlay_has_common_files_and_rendered_ones_not_the_boxs_own(overlay):
    target, _ = overlay
    assert not (target / "etc" / "boxwright-fixture").exists()  # stage "files", on the disk
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


def test_backup_section_puts_the_tool_the_profile_and_a_timer_in_the_overlay(overlay, tiny):
    target, script = overlay
    assert (target / "usr/local/bin/backup").stat().st_mode & 0o111
    assert (target / "usr/local/lib/boxwright/backup-s3-check").stat().st_mode & 0o111
    assert (target / "etc/backup/pre.d/10-sqlite").is_file()
    assert not list(target.rglob("*.j2")) and not (target / "etc/cron.d/backup").exists()
    conf = (target / "etc/duply/main/conf").read_text()
    assert "MAX_FULLBKP_AGE='2W'" in conf and "MAX_AGE='3M'" in conf and "SOURCE='/'" in conf
    exclude = (target / "etc/duply/main/exclude").read_text().splitlines()
    for path in ("/dev", "/proc", "/sys", "/tmp", "/run", "/var/run", "/var/tmp", "/var/log",
                 "/var/cache/*/*", "/home/*/.cache", "/root/.cache", "/lost+found", "/media", "/mnt",
                 "/var/cache/duplicity", "/srv/scratch"):
        assert f"- {path}" in exclude, path
    assert exclude[-2:] == ["+ /", "- **"]
    timer = (target / "etc/systemd/system/boxwright-backup.timer").read_text()
    assert "OnCalendar=Sun *-*-* 03:30:00\n" in timer and "WantedBy=timers.target" in timer
    service = (target / "etc/systemd/system/boxwright-backup.service").read_text()
    assert "ExecStart=/usr/local/bin/backup now\n" in service
    assert "ConditionPathExists=/etc/boxwright/backup.env\n" in service
    assert not (target / "etc/boxwright/backup.env").exists()
    assert "systemctl enable" in script.read_text() and "boxwright-backup.timer" in script.read_text()
    assert {"duplicity", "duply", "python3-boto3", "gnupg"} <= set(box_packages(tiny))


def test_no_backup_section_no_backup(write_box, tmp_path):
    plain = load_box("sample", write_box('version = "1.0"\n'))
    assert plain.backup is None
    assert "duply" not in box_packages(plain)
    target = tmp_path / "plain" / "rootfs"
    render_overlay(plain, VERSION, target, 1_700_000_000)
    assert not (target / "usr/local/bin/backup").exists()
    assert "boxwright-backup.timer" not in template_context(plain, VERSION)["enable"]


@pytest.mark.parametrize(("text", "expected"), [
    ("[backup]\nkeep = 'forever'\n", "backup.keep: expected an interval"),
    ("[backup]\npaths = ['/x']\n", "backup.paths: unknown key"),
    ("[backup]\nexclude = ['tmp']\n", "backup.exclude: expected absolute paths"),
])
def test_backup_mistakes_are_one_line(write_box, text, expected):
    with pytest.raises(BoxwrightError) as raised:
        load_box("sample", write_box('version = "1.0"\n' + text))
    assert expected in str(raised.value) and "\n" not in str(raised.value)


@pytest.fixture
def arm64_box(write_box):
    return load_box("sample", write_box('version = "1.0"\narch = "arm64"\n'))


def test_an_arm64_rootfs_gets_its_kernel_loader_console_and_arch(arm64_box, tmp_path):
    packages = box_packages(arm64_box)
    assert {"linux-image-cloud-arm64", "grub-efi-arm64"} <= set(packages)
    assert not {"grub-pc", "linux-image-cloud-amd64"} & set(packages)
    assert kernel_cmdline(arm64_box).startswith("console=tty0 console=ttyAMA0,115200 net.ifnames=0 ")
    argv = mmdebstrap_argv(arm64_box, tmp_path / "o", tmp_path / "customize.sh", tmp_path / "r.tar",
                           tmp_path / "c")
    assert "--arch=arm64" in argv
    # Each architecture keeps its own downloaded packages.
    assert f"--setup-hook=sync-in {tmp_path / 'c' / 'trixie-arm64'} /var/cache/apt/archives/" in argv


def test_an_arm64_overlay_mounts_the_esp_and_boots_grub_without_bios_serial(arm64_box, tmp_path):
    target = tmp_path / "overlay" / "rootfs"
    render_overlay(arm64_box, VERSION, target, 1_700_000_000)
    fstab = (target / "etc" / "fstab").read_text()
    assert "LABEL=EFI  /boot/efi  vfat  umask=0077,nofail" in fstab
    grub = (target / "boot" / "grub" / "grub.cfg").read_text()
    # The modules are built into BOOTAA64.EFI (there is no /boot/grub/arm64-efi to insmod from).
    assert "insmod" not in grub and "serial --unit" not in grub
    assert "console=ttyAMA0,115200" in grub and "set root=(lvm/boxwright-root)" in grub


def test_the_initramfs_is_made_once_in_customise(overlay):
    _, script = overlay
    text = script.read_text()
    assert "update-initramfs -c -k all" in text
    assert 'ln -sfn "boot/initrd.img-${kernel#boot/vmlinuz-}" /initrd.img' in text
