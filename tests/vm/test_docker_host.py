"""A booted docker-host VM does what its definition promises (testinfra over SSH)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import testinfra

from support.vm import load_image_over_ssh

INSECURE_KEY = "/usr/share/rubygems-integration/all/gems/vagrant-2.3.4/keys/vagrant.pub"


def test_cpus_match_the_definition(host, box_definition):
    assert host.check_output("nproc") == str(box_definition.cpus)


def test_memory_matches_the_definition(host, box_definition):
    total_kb = int(host.check_output("awk '/^MemTotal/ {print $2}' /proc/meminfo"))
    # The kernel keeps some memory for itself; what is left is within 15 % of the definition.
    assert 0.85 * box_definition.memory * 1024 <= total_kb <= box_definition.memory * 1024


def test_root_is_ext4_on_the_defined_lv(host, box_definition):
    vg, root = box_definition.lvm.vg, box_definition.lvm.root
    source, fstype = host.check_output("findmnt -no SOURCE,FSTYPE /").split()
    assert fstype == "ext4"
    assert source in (f"/dev/mapper/{vg}-{root}", f"/dev/{vg}/{root}")
    lvs = host.check_output(f"sudo lvs --noheadings -o lv_name {vg}").split()
    assert {root, box_definition.lvm.swap} <= set(lvs)


def test_volume_group_fills_the_disk(host, box_definition):
    size_gb = float(host.check_output(
        f"sudo vgs --noheadings --units g --nosuffix -o vg_size {box_definition.lvm.vg}"))
    assert box_definition.disk_gb - 1 <= size_gb <= box_definition.disk_gb


def test_swap_lv_is_active(host, box_definition):
    swaps = [line.split()[0] for line in host.file("/proc/swaps").content_string.splitlines()[1:]]
    assert swaps, "no swap active"
    real = host.check_output(f"readlink -f /dev/{box_definition.lvm.vg}/{box_definition.lvm.swap}")
    assert real in [host.check_output(f"readlink -f {s}") for s in swaps]


def test_disk_is_sparse_on_the_host(vms, box_definition):
    volumes = subprocess.run(["virsh", "-c", "qemu:///system", "vol-list", "default"],
                             capture_output=True, text=True, check=True).stdout
    disk = next(line.split()[1] for line in volumes.splitlines()
                if line.strip().startswith(vms.root.name) and "one" in line.split()[0])
    info = json.loads(subprocess.run(["qemu-img", "info", "--force-share", "--output=json", disk],
                                     capture_output=True, text=True, check=True).stdout)
    assert info["virtual-size"] >= box_definition.disk_gb * 1024**3 * 0.99
    backing = info.get("full-backing-filename") or disk
    base = json.loads(subprocess.run(["qemu-img", "info", "--force-share", "--output=json", backing],
                                     capture_output=True, text=True, check=True).stdout)
    assert base["actual-size"] < base["virtual-size"] / 10


def test_cgroup_v2_with_memory_controller(host):
    assert host.file("/sys/fs/cgroup/cgroup.controllers").contains("memory")
    assert host.check_output("stat -fc %T /sys/fs/cgroup") == "cgroup2fs"


def test_docker_has_no_memory_or_swap_limit_warnings(host):
    result = host.run("docker info")
    assert result.rc == 0, result.stderr
    warnings = result.stdout + result.stderr
    assert "No memory limit support" not in warnings
    assert "No swap limit support" not in warnings


def test_docker_active_and_enabled(host):
    docker = host.service("docker")
    assert docker.is_running
    assert docker.is_enabled


def test_vagrant_runs_docker_without_sudo(host):
    assert "docker" in host.user("vagrant").groups
    assert host.run("docker ps").rc == 0


@pytest.fixture(scope="module")
def loaded_image(vms, host, box_image):
    """The freshly built baseimage of the box's architecture, loaded into the VM's Docker from a
    tarball (no registry)."""
    load_image_over_ssh(vms.ssh_argv("one", "docker", "load"), box_image)
    return box_image


def test_a_container_runs(host, loaded_image):
    assert host.check_output(f"docker run --rm {loaded_image} cat /etc/debian_version")


def test_memory_limit_is_enforced(host, loaded_image):
    name = "boxwright-oom-check"
    host.run(f"docker rm -f {name}")
    result = host.run(
        f"docker run --name {name} --memory 64m {loaded_image} "
        "python3 -c 'b = b\"x\" * (256 << 20); print(len(b))'"
    )
    assert result.rc == 137, result.stdout + result.stderr
    assert host.check_output(f"docker inspect -f '{{{{.State.OOMKilled}}}}' {name}") == "true"
    host.run(f"docker rm -f {name}")


def test_passwordless_sudo(host):
    assert host.run("sudo -n true").rc == 0


def test_root_password_locked(host):
    assert host.check_output("sudo passwd -S root").split()[1] == "L"


def test_sshd_settings(host):
    settings = dict(
        line.split(None, 1) for line in host.check_output("sudo sshd -T").splitlines() if " " in line
    )
    assert settings["usedns"] == "no"
    assert settings["permitrootlogin"] in ("no", "prohibit-password", "without-password")


def test_vagrant_replaced_the_insecure_key(host):
    insecure = Path(INSECURE_KEY).read_text().split()[1]
    authorized = host.file("/home/vagrant/.ssh/authorized_keys").content_string
    assert authorized.strip()
    assert insecure not in authorized


def test_machine_id_and_host_keys_differ_between_vms(host, other_host):
    assert host.file("/etc/machine-id").content_string.strip()
    assert host.file("/etc/machine-id").content_string != other_host.file("/etc/machine-id").content_string
    key = "/etc/ssh/ssh_host_ed25519_key.pub"
    assert host.file(key).content_string != other_host.file(key).content_string


def test_reboots_cleanly_and_docker_comes_back(vms):
    before = testinfra.get_host(vms.testinfra_spec("two"), ssh_config=str(vms.ssh_configs["two"]))
    boot_id = before.file("/proc/sys/kernel/random/boot_id").content_string
    print(f"reboot: ssh back after {vms.reboot('two'):.1f} s")
    after = testinfra.get_host(vms.testinfra_spec("two"), ssh_config=str(vms.refresh_ssh_config("two")))
    assert after.file("/proc/sys/kernel/random/boot_id").content_string != boot_id
    state = after.run("timeout 300 systemctl is-system-running --wait").stdout.strip()
    assert after.run("systemctl --failed --no-legend").stdout.strip() == ""
    assert state == "running"
    assert after.service("docker").is_running
    assert after.run("docker info").rc == 0
