"""The docker-host VirtualBox box's VMDK boots with the hardware its OVF declares, under QEMU.

VirtualBox is not installable on this machine, so this is as close as it gets: the
``.box`` is unpacked, ``box.ovf`` is read with COT, and QEMU gets exactly what it
declares -- its CPUs and memory, the disk on an AHCI (SATA) controller and a
virtio-net NIC -- with the streamOptimized VMDK itself as the disk (behind a
throw-away qcow2 overlay).  Then the box's own testinfra checks run against it over
SSH, as the ``vagrant`` user with Vagrant's insecure key (what ``vagrant up`` uses
before it swaps in a fresh key).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import testinfra

from boxwright.box.accel import detect_accel
from boxwright.box.build import build_box
from boxwright.net import free_port, ssh_banner
from support.vm import boxes_where, load_image_over_ssh

# The box's checks, collected here again with this module's `host` (the QEMU VM).
from vm.test_docker_host import (  # noqa: F401
    test_cgroup_v2_with_memory_controller,
    test_cpus_match_the_definition,
    test_docker_active_and_enabled,
    test_docker_has_no_memory_or_swap_limit_warnings,
    test_memory_matches_the_definition,
    test_passwordless_sudo,
    test_root_is_ext4_on_the_defined_lv,
    test_root_password_locked,
    test_sshd_settings,
    test_swap_lv_is_active,
    test_vagrant_runs_docker_without_sudo,
    test_volume_group_fills_the_disk,
)

#: The boxes packaged for VirtualBox.
pytestmark = pytest.mark.parametrize("box_definition", boxes_where(lambda box: "virtualbox" in box.providers),
                                     indirect=True)

INSECURE_PRIVATE_KEY = "/usr/share/rubygems-integration/all/gems/vagrant-2.3.4/keys/vagrant"
BOOT_TIMEOUT = 1200  # docker-host under TCG on two shared cores takes minutes


@dataclass(frozen=True)
class Declared:
    """What box.ovf asks for, as COT reads it."""

    cpus: int
    memory_mb: int
    controller: str
    nic: str
    disk: str


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory, box_definition) -> Path:
    result = build_box(box_definition.name)  # reuses the newest build when nothing changed
    out = tmp_path_factory.mktemp("virtualbox-box")
    with tarfile.open(result.boxes["virtualbox"]) as tar:
        tar.extractall(out, filter="data")
    return out


@pytest.fixture(scope="module")
def declared(unpacked) -> Declared:
    from COT.vm_description.ovf import OVF

    with OVF(str(unpacked / "box.ovf"), None) as ovf:
        items = {item.hardware_type: item for item in ovf.hardware.item_dict.values()}
        (ref,) = ovf.references
        href = next(value for key, value in ref.attrib.items() if key.endswith("}href"))
        return Declared(
            cpus=int(items["cpu"].get_value("VirtualQuantity")),
            memory_mb=int(items["memory"].get_value("VirtualQuantity")),
            controller=items["sata"].get_value("ResourceSubType")[0],
            nic=items["ethernet"].get_value("ResourceSubType")[0],
            disk=href,
        )


@dataclass
class Vm:
    port: int
    ssh_config: Path
    serial: Path
    banner: str
    seconds: float

    def ssh_argv(self, *command: str) -> list[str]:
        return ["ssh", "-F", str(self.ssh_config), "vm", *command]


@pytest.fixture(scope="module")
def vm(unpacked, declared, tmp_path_factory) -> Iterator[Vm]:
    """QEMU with the declared hardware, the VMDK as its disk; killed (group and all) afterwards."""
    assert declared.controller == "AHCI" and declared.nic == "virtio"
    root = tmp_path_factory.mktemp("qemu")
    overlay = root / "overlay.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(unpacked / declared.disk),
                    "-F", "vmdk", str(overlay)], check=True)
    port, serial = free_port(), root / "serial.log"
    accel = detect_accel()
    argv = [
        "qemu-system-x86_64", "-machine", f"pc,accel={accel.name}",
        "-cpu", "max" if accel.name == "tcg" else "host",
        "-smp", str(declared.cpus), "-m", str(declared.memory_mb), "-display", "none", "-no-user-config",
        "-nodefaults", "-serial", f"file:{serial}",
        "-device", "ahci,id=sata0",
        "-drive", f"if=none,id=disk0,file={overlay},format=qcow2,cache=unsafe",
        "-device", "ide-hd,drive=disk0,bus=sata0.0",
        "-netdev", f"user,id=net0,hostfwd=tcp:127.0.0.1:{port}-:22",
        "-device", "virtio-net-pci,netdev=net0",
    ]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)
    started = time.monotonic()
    try:
        banner = ""
        while not banner.startswith("SSH-"):
            if process.poll() is not None:
                pytest.fail(f"qemu exited {process.returncode}: {process.stderr.read().decode()}")
            assert time.monotonic() - started < BOOT_TIMEOUT, \
                f"no SSH banner in {BOOT_TIMEOUT} s:\n{serial.read_text(errors='replace')[-3000:]}"
            time.sleep(3)
            banner = ssh_banner(port)
        seconds = time.monotonic() - started
        print(f"VMDK under QEMU ({accel.name}): SSH banner after {seconds:.0f} s: {banner.strip()}")
        key = root / "insecure-key"  # ssh refuses a private key others may read
        key.write_bytes(Path(INSECURE_PRIVATE_KEY).read_bytes())
        key.chmod(0o600)
        config = root / "ssh-config"
        config.write_text(
            f"Host vm\n  HostName 127.0.0.1\n  Port {port}\n  User vagrant\n"
            f"  IdentityFile {key}\n  IdentitiesOnly yes\n  StrictHostKeyChecking no\n"
            "  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n")
        yield Vm(port, config, serial, banner, seconds)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def host(vm):
    host = testinfra.get_host("paramiko://vm", ssh_config=str(vm.ssh_config))
    deadline = time.monotonic() + 300  # sshd answers before the vagrant user's login is possible
    while host.run("systemctl is-system-running --wait").stdout.strip() not in ("running", "degraded"):
        assert time.monotonic() < deadline, host.run("systemctl --failed").stdout
        time.sleep(5)
    return host


def test_the_box_carries_no_machine_id_and_no_host_keys(unpacked, box_definition):
    lvm = box_definition.lvm
    script = (f"add {unpacked / 'box-disk001.vmdk'} readonly:true format:vmdk\nrun\n"
              f"mount-ro /dev/{lvm.vg}/{lvm.root} /\nfilesize /etc/machine-id\n"
              "glob-expand /etc/ssh/ssh_host_*\n")
    done = subprocess.run(["guestfish"], input=script, capture_output=True, text=True, timeout=900,
                          env=dict(os.environ, **detect_accel().libguestfs_env()))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0"


def test_boots_to_an_ssh_banner_over_the_virtio_nic(vm, host):
    assert vm.banner.startswith("SSH-2.0-OpenSSH")
    assert host.check_output("basename $(readlink /sys/class/net/eth0/device/driver)") == "virtio_net"
    assert "ahci" in host.check_output("ls /sys/bus/pci/drivers")
    assert host.check_output("findmnt -no SOURCE /").startswith("/dev/mapper/")


def test_the_kernel_has_no_e1000_so_virtio_is_needed(host):
    missing = host.run("sudo modinfo e1000")
    assert missing.rc == 1 and "not found" in missing.stderr
    assert host.run("sudo modinfo virtio_net").rc == 0


def test_first_boot_made_an_identity(host):
    assert len(host.file("/etc/machine-id").content_string.strip()) == 32
    assert host.file("/etc/ssh/ssh_host_ed25519_key").exists


@pytest.fixture(scope="module")
def loaded_image(vm, host, baseimage):
    load_image_over_ssh(vm.ssh_argv("docker", "load"), baseimage)
    return baseimage


def test_memory_limit_is_enforced(host, loaded_image):
    result = host.run(f"docker run --rm --memory 64m {loaded_image} "
                      "python3 -c 'b = b\"x\" * (256 << 20); print(len(b))'")
    assert result.rc == 137, result.stdout + result.stderr


def test_record_boot_time(vm, unpacked):
    """For ./kit bench (box group): the VMDK's boot to an SSH banner, and the box's size."""
    from boxwright.bench.box import last_vmdk_boot

    record = last_vmdk_boot()
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({
        "ssh_banner_seconds": round(vm.seconds, 1), "accelerator": detect_accel().name,
        "vmdk_bytes": (unpacked / "box-disk001.vmdk").stat().st_size}) + "\n")
    assert json.loads(record.read_text())["ssh_banner_seconds"] > 0
