"""Build the tiny fixture box for real and inspect the artefact (no boot: that is test-box's job).

libguestfs opens the built ``box.img`` read-only, so the partition table, the LVs,
the filesystems and the files inside are checked on the disk Vagrant will get.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from boxwright.box.accel import detect_accel
from boxwright.box.build import BoxResult, build_box, metadata, render_vagrantfile
from boxwright.box.definition import load_box
from boxwright.box.preload import preload_file_name
from boxwright.box.stages import StageCache
from support.guestfish import guestfish_sections
from support.vmdk import qemu_img_vmdk, without_cid

GIB = 1024**3


@pytest.fixture(scope="module")
def own_preload() -> Iterator[str]:
    """A one-file image FROM scratch under this session's own tag.  Other sessions rebuild and remove
    the shared preload tag, and the image's id is an input of the rootfs stage: every build of this
    module must see the same image."""
    from boxwright.engine import docker_client

    tag = f"boxwright-test/preload:session{os.getpid()}"
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in {"Dockerfile": b"FROM scratch\nCOPY hello.txt /\n",
                           "hello.txt": b"preloaded by boxwright\n"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    docker_client().images.build(fileobj=context, custom_context=True, tag=tag, rm=True)
    yield tag
    docker_client().images.remove(tag, force=True)


@pytest.fixture(scope="module")
def root(tmp_path_factory, request, own_preload) -> Path:
    """A copy of the fixture definitions (the reuse tests edit it; it preloads own_preload), dist/, work/."""
    root = tmp_path_factory.mktemp("box")
    shutil.copytree(Path(request.config.rootpath) / "tests" / "fixtures" / "boxes", root / "boxes")
    definition = root / "boxes" / "tiny" / "box.toml"
    definition.write_text(definition.read_text().replace('"boxwright-test/preload:1"', f'"{own_preload}"'))
    return root


def _build(root: Path, **kwargs) -> BoxResult:
    return build_box("tiny", boxes_dir=root / "boxes", dist=root / "dist", work=root / "work", **kwargs)


@pytest.fixture(scope="module")
def built(root) -> BoxResult:
    return _build(root)


@pytest.fixture(scope="module")
def noop(built, root) -> tuple[BoxResult, dict[str, float]]:
    """A second build with nothing changed, and the stage outputs' mtimes before it."""
    cache = StageCache(root / "work" / "tiny" / "stages")
    before = {p.name: p.stat().st_mtime for p in cache.entries()}
    return _build(root), before


@pytest.fixture(scope="module")
def changed(noop, root) -> BoxResult:
    """A build after editing one file under the box's rootfs/."""
    edited = root / "boxes" / "tiny" / "rootfs" / "etc" / "boxwright-fixture"
    edited.write_text("tiny fixture box, edited\n")
    return _build(root)


@pytest.fixture(scope="module")
def uncached(changed, root) -> BoxResult:
    return _build(root, no_cache=True)


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
echo ==backup-tool
stat /usr/local/bin/backup
echo ==backup-check
is-file /usr/local/lib/boxwright/backup-s3-check
echo ==backup-conf
cat /etc/duply/main/conf
echo ==backup-exclude
cat /etc/duply/main/exclude
echo ==backup-timer
cat /etc/systemd/system/boxwright-backup.timer
echo ==backup-service
cat /etc/systemd/system/boxwright-backup.service
echo ==timers-wants
ls /etc/systemd/system/timers.target.wants
echo ==backup-env
exists /etc/boxwright/backup.env
echo ==duply
is-file /usr/bin/duply
"""


@pytest.fixture(scope="module")
def inside(image, tiny, tmp_path_factory) -> dict[str, str]:
    """Every section of the read-only guestfish session, by name."""
    out = tmp_path_factory.mktemp("inspect")
    script = INSPECT.format(image=image, mbr=out / "head.bin", vg=tiny.lvm.vg, root=tiny.lvm.root,
                            swap=tiny.lvm.swap)
    result = guestfish_sections(script)
    result["head"] = (out / "head.bin").read_bytes().hex()
    return result


def test_box_file_members(built, tiny):
    with tarfile.open(built.box) as tar:
        assert sorted(tar.getnames()) == ["Vagrantfile", "box.img", "info.json", "metadata.json"]
        assert json.load(tar.extractfile("metadata.json")) == metadata(tiny)
        assert tar.extractfile("Vagrantfile").read().decode() == render_vagrantfile(tiny, built.version)
        info = json.load(tar.extractfile("info.json"))
    assert info["version"] == built.version and info["accelerator"] in ("kvm", "tcg")
    assert info["provider"] == "libvirt" and info["architecture"] == "amd64"
    assert set(info["tools"]) == {"mmdebstrap", "qemu-img", "libguestfs", "vagrant"}
    assert all(info["tools"].values())
    assert info["input_hash"] == built.keys.input_hash
    assert built.box.name == f"tiny-{built.version}-libvirt-amd64.box"
    assert built.box.parent.name == built.version
    assert set(built.boxes) == {"libvirt", "virtualbox"}
    assert built.boxes["virtualbox"].name == f"tiny-{built.version}-virtualbox-amd64.box"


def test_catalog(built):
    catalog = json.loads(built.catalog.read_text())
    assert catalog["name"] == "boxwright/tiny"
    entry = catalog["versions"][0]
    assert entry["version"] == built.version and built.version.startswith("0.3.")
    assert [p["name"] for p in entry["providers"]] == ["libvirt", "virtualbox"]
    for provider in entry["providers"]:
        box = built.boxes[provider["name"]]
        assert provider["url"] == box.resolve().as_uri()
        assert provider["checksum_type"] == "sha256"
        assert provider["architecture"] == "amd64"  # Vagrant 2.4 matches it against the host
        assert provider["checksum"] == hashlib.sha256(box.read_bytes()).hexdigest()


def test_build_report(built):
    report = json.loads((built.box.parent / "build.json").read_text())
    assert set(report["stages_seconds"]) == {"packages", "rootfs", "files", "disk", "package-libvirt",
                                             "package-virtualbox", "catalog"}
    assert report["reused_stages"] == []
    assert report["sizes_bytes"]["box"] == built.box.stat().st_size
    assert report["keys"]["input_hash"] == built.keys.input_hash


def test_noop_rebuild_reuses_the_version(noop, built, root):
    again, before = noop
    assert again.reused and again.version == built.version
    assert again.boxes == built.boxes
    assert sorted(p.name for p in (root / "dist" / "tiny").iterdir()) == [built.version]
    cache = StageCache(root / "work" / "tiny" / "stages")
    assert {p.name: p.stat().st_mtime for p in cache.entries()} == before
    assert len(json.loads(built.catalog.read_text())["versions"]) == 1


def test_one_rootfs_file_changed_redoes_only_what_depends_on_it(changed, built, root):
    assert not changed.reused and changed.version != built.version
    # The rootfs and the disk made of it are reused: only the files go onto a copy of that disk.
    assert changed.reused_stages == ["rootfs", "base-disk"]
    assert changed.keys.rootfs == built.keys.rootfs and changed.keys.base_disk == built.keys.base_disk
    assert changed.keys.files != built.keys.files and changed.keys.disk != built.keys.disk
    disk = StageCache(root / "work" / "tiny" / "stages").path("disk", changed.keys.disk, ".qcow2")
    script = f"add {disk} readonly:true format:qcow2\nrun\nmount-ro /dev/tinyvg/rootlv /\n" \
             "cat /etc/boxwright-fixture\n"
    done = subprocess.run(["guestfish"], input=script, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, **detect_accel().libguestfs_env()))
    assert done.stdout.rstrip("\n") == "tiny fixture box, edited", done.stderr  # guestfish adds a newline
    versions = [v["version"] for v in json.loads(built.catalog.read_text())["versions"]]
    assert versions == [built.version, changed.version]


def test_no_cache_rebuilds_every_stage(uncached, changed):
    assert not uncached.reused and uncached.version not in (changed.version,)
    assert uncached.reused_stages == []
    assert uncached.keys.input_hash == changed.keys.input_hash
    assert {"rootfs", "files", "disk", "package-libvirt", "package-virtualbox"} <= set(uncached.stages)
    assert uncached.stages["rootfs"] > 0 and uncached.stages["disk"] > 0


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


def test_images_are_preloaded(inside, built, own_preload):
    assert inside["preload"] == preload_file_name(own_preload)
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


# The VirtualBox box: what Vagrant's VirtualBox provider imports (VirtualBox itself is not
# installable here; the VMDK's boot under QEMU with the declared hardware is in tests/vm).

@pytest.fixture(scope="module")
def vbox(built, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("vbox")
    with tarfile.open(built.boxes["virtualbox"]) as tar:
        tar.extractall(out, filter="data")
    return out


def test_virtualbox_box_members(vbox, tiny):
    assert sorted(p.name for p in vbox.iterdir()) == [
        "Vagrantfile", "box-disk001.vmdk", "box.mf", "box.ovf", "info.json", "metadata.json"]
    assert json.loads((vbox / "metadata.json").read_text()) == {"provider": "virtualbox"}
    vagrantfile = (vbox / "Vagrantfile").read_text()
    assert 'vb.default_nic_type = "virtio"' in vagrantfile
    assert f"vb.cpus = {tiny.cpus}" in vagrantfile and f"vb.memory = {tiny.memory}" in vagrantfile
    assert json.loads((vbox / "info.json").read_text())["provider"] == "virtualbox"


def test_ovf_parses_with_cot_and_declares_the_hardware(vbox, tiny):
    from COT.vm_description.ovf import OVF

    with OVF(str(vbox / "box.ovf"), None) as ovf:
        refs = [{key.split("}")[1]: value for key, value in ref.attrib.items()} for ref in ovf.references]
        assert [r["href"] for r in refs] == ["box-disk001.vmdk"]
        for ref in refs:
            assert (vbox / ref["href"]).stat().st_size == int(ref["size"])
        items = {}
        for item in ovf.hardware.item_dict.values():
            items.setdefault(item.hardware_type, []).append(item)
        assert set(items) == {"cpu", "memory", "sata", "harddisk", "ethernet"}
        (cpu,), (memory,), (sata,) = items["cpu"], items["memory"], items["sata"]
        (disk,), (nic,) = items["harddisk"], items["ethernet"]
        assert int(cpu.get_value("VirtualQuantity")) == tiny.cpus
        assert int(memory.get_value("VirtualQuantity")) == tiny.memory
        assert memory.get_value("AllocationUnits") == "byte * 2^20"
        assert sata.get_value("ResourceSubType") == ("AHCI",)
        assert disk.get_value("Parent") == sata.get_value("InstanceID")
        assert disk.get_value("HostResource") == "ovf:/disk/vmdisk1"
        assert nic.get_value("ResourceSubType") == ("virtio",)
        assert int(ovf.get_capacity_from_disk(ovf.disk_section.find(f"{ovf.OVF}Disk"))) == 4 * GIB


def test_manifest_checksums_the_ovf_and_the_disk(vbox):
    lines = (vbox / "box.mf").read_text().splitlines()
    assert lines == [f"SHA256({name})= {hashlib.sha256((vbox / name).read_bytes()).hexdigest()}"
                     for name in ("box.ovf", "box-disk001.vmdk")]


def test_vmdk_is_stream_optimized(vbox):
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", str(vbox / "box-disk001.vmdk")],
                                     capture_output=True, text=True, check=True).stdout)
    assert info["format"] == "vmdk" and info["virtual-size"] == 4 * GIB
    assert info["format-specific"]["data"]["create-type"] == "streamOptimized"


def test_vmdk_is_byte_for_byte_what_qemu_img_writes(vbox, built, root, tmp_path):
    """The parallel writer (boxwright.box.vmdk) against qemu-img on the box's real disk: only the
    descriptor's CID differs (random in qemu-img)."""
    disk = StageCache(root / "work" / "tiny" / "stages").path("disk", built.keys.disk, ".qcow2")
    theirs = qemu_img_vmdk(disk, tmp_path / "box-disk001.vmdk")
    assert without_cid(vbox / "box-disk001.vmdk") == without_cid(theirs)


def test_vagrant_adds_it_as_a_virtualbox_box(built, tmp_path):
    env = dict(os.environ, VAGRANT_HOME=str(tmp_path / "vagrant.d"), VAGRANT_NO_COLOR="1",
               VAGRANT_CHECKPOINT_DISABLE="1")
    add = ["vagrant", "box", "add", "--name", "boxwright/tiny", str(built.boxes["virtualbox"])]
    done = subprocess.run(add, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    listed = subprocess.run(["vagrant", "box", "list"], env=env, capture_output=True, text=True, timeout=120)
    assert "boxwright/tiny (virtualbox, 0)" in listed.stdout
    box_dir = tmp_path / "vagrant.d" / "boxes" / "boxwright-VAGRANTSLASH-tiny" / "0" / "virtualbox"
    assert (box_dir / "box.ovf").is_file() and (box_dir / "box-disk001.vmdk").is_file()


def test_backup_tool_profile_exclusions_and_timer_are_in_the_disk(inside, tiny):
    assert "mode: 33261" in inside["backup-tool"]  # 0100755: a regular executable file
    assert inside["backup-check"] == "true"
    assert "MAX_FULLBKP_AGE='2W'" in inside["backup-conf"] and "MAX_AGE='3M'" in inside["backup-conf"]
    exclude = inside["backup-exclude"].splitlines()
    assert [f"- {p}" for p in tiny.backup.excludes] == [line for line in exclude if line.startswith("- /")]
    assert "- /srv/scratch" in exclude and exclude[-2:] == ["+ /", "- **"]
    assert "OnCalendar=Sun *-*-* 03:30:00" in inside["backup-timer"]
    assert "ConditionPathExists=/etc/boxwright/backup.env" in inside["backup-service"]
    assert "boxwright-backup.timer" in inside["timers-wants"].split()
    assert inside["backup-env"] == "false"  # secrets are never in the box
    assert inside["duply"] == "true"
    installed = {stanza.split("\n", 1)[0].removeprefix("Package: ")
                 for stanza in inside["dpkg-status"].split("\n\n")
                 if "Status: install ok installed" in stanza}
    assert {"duplicity", "duply", "python3-boto3", "gnupg"} <= installed
