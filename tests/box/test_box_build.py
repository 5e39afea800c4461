"""Build the tiny fixture box for real and inspect the artefact (no boot: that is test-box's job).

libguestfs opens the built ``box.img`` read-only, so the partition table, the LVs,
the filesystems and the files inside are checked on the disk Vagrant will get.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from boxwright.box.accel import detect_accel
from boxwright.box.build import BoxResult, build_box, metadata, render_vagrantfile
from boxwright.box.definition import load_box

GIB = 1024**3


@pytest.fixture(scope="module")
def built(tmp_path_factory, request, preload_image) -> BoxResult:
    fixtures = Path(request.config.rootpath) / "tests" / "fixtures" / "boxes"
    root = tmp_path_factory.mktemp("box")
    return build_box("tiny", boxes_dir=fixtures, dist=root / "dist", work=root / "work")


@pytest.fixture(scope="module")
def tiny(request):
    return load_box("tiny", Path(request.config.rootpath) / "tests" / "fixtures" / "boxes")


@pytest.fixture(scope="module")
def image(built, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("img")
    with tarfile.open(built.box) as tar:
        tar.extract("box.img", out, filter="data")
    return out / "box.img"


INSPECT = """\
add {image} readonly:true format:qcow2
run
echo ==parttype
part-get-parttype /dev/sda
echo ==partitions
list-partitions
echo ==bootable
part-get-bootable /dev/sda 1
echo ==pvs
pvs
echo ==lvs
lvs
echo ==root-fs
vfs-type /dev/{vg}/{root}
echo ==swap-fs
vfs-type /dev/{vg}/{swap}
echo ==root-size
blockdev-getsize64 /dev/{vg}/{root}
echo ==swap-size
blockdev-getsize64 /dev/{vg}/{swap}
echo ==disk-size
blockdev-getsize64 /dev/sda
download-offset /dev/sda {mbr} 0 1048576
mount-ro /dev/{vg}/{root} /
echo ==fixture
cat /etc/boxwright-fixture
echo ==machine-id-size
filesize /etc/machine-id
echo ==host-keys
glob-expand /etc/ssh/ssh_host_*
echo ==authorized-keys
cat /home/vagrant/.ssh/authorized_keys
echo ==sudoers
cat /etc/sudoers.d/vagrant
echo ==shadow
cat /etc/shadow
echo ==group
cat /etc/group
echo ==sshd
cat /etc/ssh/sshd_config.d/10-boxwright.conf
echo ==fstab
cat /etc/fstab
echo ==grub-cfg
cat /boot/grub/grub.cfg
echo ==core-img
is-file /boot/grub/i386-pc/core.img
echo ==wants
ls /etc/systemd/system/multi-user.target.wants
echo ==boot
ls /boot
echo ==preload
ls /var/lib/boxwright/preload
echo ==dpkg-status
cat /var/lib/dpkg/status
"""


@pytest.fixture(scope="module")
def inside(image, tiny, tmp_path_factory) -> dict[str, str]:
    """Every section of the read-only guestfish session, by name."""
    out = tmp_path_factory.mktemp("inspect")
    script = INSPECT.format(image=image, mbr=out / "head.bin", vg=tiny.lvm.vg, root=tiny.lvm.root,
                            swap=tiny.lvm.swap)
    env = dict(os.environ, **detect_accel().libguestfs_env())
    done = subprocess.run(["guestfish"], input=script, capture_output=True, text=True, env=env,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    sections: dict[str, list[str]] = {}
    current = ""
    for line in done.stdout.splitlines():
        if line.startswith("=="):
            current = line[2:]
            sections[current] = []
        else:
            sections.setdefault(current, []).append(line)
    result = {name: "\n".join(lines).strip() for name, lines in sections.items()}
    result["head"] = (out / "head.bin").read_bytes().hex()
    return result


def test_box_file_members(built, tiny):
    with tarfile.open(built.box) as tar:
        assert sorted(tar.getnames()) == ["Vagrantfile", "box.img", "info.json", "metadata.json"]
        assert json.load(tar.extractfile("metadata.json")) == metadata(tiny)
        assert tar.extractfile("Vagrantfile").read().decode() == render_vagrantfile(tiny, built.version)
        info = json.load(tar.extractfile("info.json"))
    assert info["version"] == built.version and info["accelerator"] in ("kvm", "tcg")
    assert built.box.name == "tiny-libvirt.box"
    assert built.box.parent.name == built.version


def test_catalog(built):
    catalog = json.loads(built.catalog.read_text())
    assert catalog["name"] == "boxwright/tiny"
    (entry,) = catalog["versions"]
    assert entry["version"] == built.version and built.version.startswith("0.3.")
    (provider,) = entry["providers"]
    assert provider["name"] == "libvirt"
    assert provider["url"] == built.box.resolve().as_uri()
    assert provider["checksum_type"] == "sha256"
    assert provider["checksum"] == hashlib.sha256(built.box.read_bytes()).hexdigest()


def test_build_report(built):
    report = json.loads((built.box.parent / "build.json").read_text())
    assert list(report["stages_seconds"]) == ["rootfs", "customise", "disk", "package", "catalog"]
    assert report["sizes_bytes"]["box"] == built.box.stat().st_size


def test_qcow2_is_compressed_and_sized(image):
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", str(image)],
                                     capture_output=True, text=True, check=True).stdout)
    assert info["format"] == "qcow2"
    assert info["virtual-size"] == 4 * GIB
    assert info["format-specific"]["data"]["compression-type"] == "zlib"
    assert info["actual-size"] < 600 * 10**6


def test_no_leftovers(built):
    for directory in (built.box.parent.parent, built.box.parent.parent.parent):
        assert not list(directory.glob(".boxwright-tmp-*"))
    assert not [p for p in Path("/proc").glob("[0-9]*/cmdline")
                if b"qemu-system" in _read(p) and str(built.box.parent.parent.parent.parent).encode()
                in _read(p)]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def test_partition_table_and_bootloader(inside):
    assert inside["parttype"] == "msdos"
    assert inside["partitions"] == "/dev/sda1"
    assert inside["bootable"] == "true"
    head = bytes.fromhex(inside["head"])
    assert head[510:512] == b"\x55\xaa"
    assert b"GRUB" in head[:512]  # boot.img
    assert head[512:1024].strip(b"\0")  # core.img (compressed) is embedded after the MBR
    assert not head[1024 * 1024 - 512:].strip(b"\0")  # ... and the 1 MiB gap is not overrun


def test_lvm_layout(inside, tiny):
    assert inside["pvs"] == "/dev/sda1"
    assert set(inside["lvs"].split()) == {"/dev/tinyvg/rootlv", "/dev/tinyvg/swaplv"}
    assert inside["root-fs"] == "ext4" and inside["swap-fs"] == "swap"
    assert int(inside["swap-size"]) == 256 * 1024**2
    used = int(inside["root-size"]) + int(inside["swap-size"])
    assert int(inside["disk-size"]) - 8 * 1024**2 <= used <= int(inside["disk-size"])


def test_files_from_rootfs_and_templates(inside):
    assert inside["fixture"] == "tiny fixture box"
    assert "/dev/mapper/tinyvg-rootlv  /     ext4" in inside["fstab"]
    assert "linux /vmlinuz root=/dev/mapper/tinyvg-rootlv ro" in inside["grub-cfg"]
    assert "cgroup_enable=memory swapaccount=1" in inside["grub-cfg"]
    assert inside["core-img"] == "true"
    assert any(name.startswith("initrd.img-") for name in inside["boot"].split())


def test_identity_is_left_to_first_boot(inside):
    assert inside["machine-id-size"] == "0"
    assert inside["host-keys"] == ""


def test_users_and_logins(inside):
    assert "vagrant insecure public key" in inside["authorized-keys"]
    assert inside["sudoers"] == "vagrant ALL=(ALL) NOPASSWD: ALL"
    shadow = {line.split(":")[0]: line.split(":")[1] for line in inside["shadow"].splitlines()}
    assert shadow["root"].startswith("!")
    assert shadow["vagrant"] == "*" and shadow["alice"] == "*"
    docker = next(line for line in inside["group"].splitlines() if line.startswith("docker:"))
    assert docker.split(":")[3].split(",") == ["vagrant"]
    assert "UseDNS no" in inside["sshd"] and "PermitRootLogin prohibit-password" in inside["sshd"]


def test_services_enabled(inside):
    assert {"docker.service", "containerd.service", "ssh.service", "systemd-networkd.service",
            "boxwright-preload-images.service"} <= set(inside["wants"].split())


def test_images_are_preloaded(inside, built):
    assert inside["preload"] == "boxwright-test_preload_1.tar"
    assert built.sizes["preload_images"] > 0


@pytest.mark.parametrize("package", [
    "linux-image-cloud-amd64", "grub-pc", "lvm2", "initramfs-tools", "openssh-server", "sudo",
    "docker.io", "docker-cli", "qemu-guest-agent", "rsync", "dbus", "systemd-resolved", "less",
])
def test_package_installed(inside, package):
    installed = set()
    for stanza in inside["dpkg-status"].split("\n\n"):
        fields = dict(line.split(": ", 1) for line in stanza.splitlines() if ": " in line
                      and not line.startswith(" "))
        if fields.get("Status") == "install ok installed":
            installed.add(fields["Package"])
    assert package in installed
