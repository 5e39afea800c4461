"""Boot a built box the way a user does (``vagrant box add`` + ``vagrant up``) and clean up after.

Whatever happens — a failed check, Ctrl-C, a VM that never answers SSH — the
VMs are destroyed, the box and its libvirt pool volume removed and the
temporary Vagrant home deleted.  vagrant-libvirt caches base volumes by box
name *and version*, so leaving one behind would make a rebuilt box silently
boot the old disk.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from boxwright import paths
from boxwright.box.arch import BoxArch, box_arch
from boxwright.box.vagrant import Vagrant
from boxwright.errors import CatalogError, CleanupError, VagrantError
from boxwright.net import free_port, ssh_banner
from boxwright.platforms import host_platform
from boxwright.proc import run, spawn, stop
from boxwright.render import render_template

__all__ = ["NVRAM_DIR", "BootedBox", "booted_box", "catalog_arch", "newest_version", "pool_volumes",
           "power_on_to_ssh", "qemu_boot_argv", "work_dir"]

LIBVIRT_URI = "qemu:///system"
#: Where libvirt keeps UEFI variable stores (test-box gives each VM its own, and removes it).
NVRAM_DIR = Path("/var/lib/libvirt/qemu/nvram")
log = logging.getLogger(__name__)


def work_dir() -> Path:
    """Where test-box keeps its temporary Vagrant homes and records: ``build/test-box/``."""
    return paths.build_dir() / "test-box"


@dataclass
class BootedBox:
    """Running VMs made from one box version, with an ssh-config file per VM."""

    name: str
    version: str
    driver: str
    root: Path
    vagrant: Vagrant
    ssh_configs: dict[str, Path] = field(default_factory=dict)
    up_seconds: float = 0.0

    def testinfra_spec(self, machine: str) -> str:
        return f"paramiko://{machine}"

    def ssh_argv(self, machine: str, *command: str) -> list[str]:
        """An ``ssh`` command line that runs ``command`` on ``machine``."""
        return ["ssh", "-F", str(self.ssh_configs[machine]), machine, *command]

    def refresh_ssh_config(self, machine: str) -> Path:
        """Ask Vagrant again (after a reload) and write a fresh ssh-config file."""
        path = self.root / f"ssh-config-{machine}-{time.monotonic_ns()}"
        path.write_text(self.vagrant.ssh_config(machine))
        self.ssh_configs[machine] = path
        return path

    def reboot(self, machine: str, timeout: float = 300) -> float:
        """Reboot from inside the guest (``systemctl reboot``); return seconds until SSH answers again."""
        def boot_id() -> str | None:
            result = run(self.ssh_argv(machine, "cat", "/proc/sys/kernel/random/boot_id"), timeout=30,
                         check=False)
            return result.output.strip() if result.ok else None

        before = boot_id()
        started = time.monotonic()
        run(self.ssh_argv(machine, "sudo", "systemctl", "reboot"), timeout=60, check=False)
        while time.monotonic() - started < timeout:
            current = boot_id()
            if current and current != before:
                return time.monotonic() - started
            time.sleep(2)
        raise VagrantError(
            f"{machine} did not come back within {timeout:.0f} s of a reboot:\n{self.serial_tail(machine)}"
        )

    def serial_tail(self, machine: str, lines: int = 40) -> str:
        log = self.root / f"{machine}-serial.log"
        if not log.exists():
            return "(no serial console output)"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def newest_version(catalog: Path) -> tuple[str, str]:
    """The box name and its newest version in a Vagrant catalog (``dist/boxes/<name>.json``)."""
    try:
        data = json.loads(catalog.read_text())
        versions = [v["version"] for v in data["versions"]]
        name = data["name"]
    except FileNotFoundError:
        raise CatalogError(f"{catalog}: no such catalog; build a box first (./kit build-box)") from None
    except (ValueError, KeyError, TypeError) as error:
        raise CatalogError(f"{catalog}: not a Vagrant box catalog ({error})") from None
    if not versions:
        raise CatalogError(f"{catalog}: the catalog lists no version")
    newest = max(versions, key=lambda v: tuple(int(p) for p in v.split(".")))
    return name, newest


def catalog_arch(catalog: Path, version: str) -> BoxArch:
    """The architecture of ``version``'s libvirt box in the catalog (the host's when unnamed)."""
    data = json.loads(catalog.read_text())
    providers = next(v["providers"] for v in data["versions"] if v["version"] == version)
    named = next((p.get("architecture") for p in providers if p.get("name") == "libvirt"), None)
    return box_arch(named or host_platform().debian)


def pool_volumes(name: str, version: str) -> list[str]:
    """Volumes vagrant-libvirt created for this box version in the default pool."""
    prefix = f"{name.replace('/', '-VAGRANTSLASH-')}_vagrant_box_image_{version}"
    return [
        line.split()[0] for line in _virsh("vol-list", "default").splitlines()[2:]
        if line.strip() and line.split()[0].startswith(prefix)
    ]


@contextlib.contextmanager
def booted_box(
    catalog: Path,
    machines: tuple[str, ...] = ("default",),
    driver: str = "kvm",
    boot_timeout: int = 300,
) -> Iterator[BootedBox]:
    """Add the catalog's newest box, boot ``machines`` from it, yield them, then remove everything.

    A box of another architecture than the host's boots with the domain settings its own
    Vagrantfile carries (TCG and its CPU model here); ``driver`` is for the host's own.
    """
    name, version = newest_version(catalog)
    arch = catalog_arch(catalog, version)
    work_dir().mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="vms-", dir=work_dir()))
    vagrant = Vagrant(root, env={"VAGRANT_HOME": str(root / "vagrant.d")})
    booted = BootedBox(name, version, driver, root, vagrant)
    (root / "Vagrantfile").write_text(render_template("box/Vagrantfile.test.j2", {
        "box": name, "version": version, "machines": machines, "driver": driver,
        "serial_dir": str(root), "boot_timeout": boot_timeout, "native": arch.platform.is_host,
        "nvram_dir": str(NVRAM_DIR) if arch.uefi else "", "prefix": root.name,
    }))
    try:
        vagrant.box_add(catalog)
        started = time.monotonic()
        try:
            vagrant.up()
        except VagrantError as error:
            consoles = "\n".join(f"--- {m} serial console:\n{booted.serial_tail(m)}" for m in machines)
            raise VagrantError(f"{error}\n{consoles}") from None
        booted.up_seconds = time.monotonic() - started
        for machine in machines:
            booted.refresh_ssh_config(machine)
        yield booted
    finally:
        _clean_up(booted)


def qemu_boot_argv(arch: BoxArch, disk: Path, *, cpus: int, memory: int, port: int, serial: Path,
                   vars_file: Path, accel: str = "tcg") -> list[str]:
    """QEMU booting ``disk`` as the box's libvirt domain would (virtio disk and NIC, the Vagrantfile's
    CPU under TCG, UEFI for arm64), its SSH forwarded to 127.0.0.1:``port``, its console to ``serial``."""
    argv = [arch.emulator, "-accel", f"{accel},thread=multi" if accel == "tcg" else accel,
            "-smp", str(cpus), "-m", str(memory), "-display", "none", "-no-user-config", "-nodefaults",
            "-serial", f"file:{serial}",
            "-drive", f"if=virtio,file={disk},format=qcow2,cache=unsafe",
            "-netdev", f"user,id=net0,hostfwd=tcp:127.0.0.1:{port}-:22",
            "-device", "virtio-net-pci,netdev=net0"]
    cpu = "host" if accel == "kvm" else arch.tcg_cpu_model
    if arch.uefi:
        argv += ["-machine", arch.machine_type, "-cpu", cpu,
                 "-drive", f"if=pflash,format=raw,readonly=on,file={arch.loader}",
                 "-drive", f"if=pflash,format=raw,file={vars_file}"]
    else:
        argv += ["-cpu", cpu]
    return argv


def power_on_to_ssh(arch: BoxArch, disk: Path, *, cpus: int, memory: int, timeout: float = 600,
                    accel: str = "tcg") -> float:
    """Seconds from QEMU's start to the SSH banner of a copy-on-write overlay of ``disk``."""
    work_dir().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="power-on-", dir=work_dir()) as tmp:
        root = Path(tmp)
        overlay, serial, vars_file = root / "overlay.qcow2", root / "serial.log", root / "VARS.fd"
        run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(disk), "-F", "qcow2", str(overlay)],
            what="qemu-img create (overlay)")
        if arch.uefi:
            shutil.copyfile(arch.nvram_template, vars_file)
        port = free_port()
        argv = qemu_boot_argv(arch, overlay, cpus=cpus, memory=memory, port=port, serial=serial,
                              vars_file=vars_file, accel=accel)
        process = spawn(argv, log_file=root / "qemu.log")
        started = time.monotonic()
        try:
            while not ssh_banner(port).startswith("SSH-"):
                if process is not None and process.poll() is not None:
                    raise VagrantError(f"qemu exited {process.returncode}: "
                                       f"{(root / 'qemu.log').read_text(errors='replace')[-500:]}")
                if time.monotonic() - started > timeout:
                    raise VagrantError(f"no SSH banner within {timeout:.0f} s:\n"
                                       f"{serial.read_text(errors='replace')[-2000:]}")
                time.sleep(1)
            return time.monotonic() - started
        finally:
            stop(process)


def _virsh(*args: str) -> str:
    """Run virsh against the system libvirt; its stdout ('' when it fails)."""
    result = run(["virsh", "-c", LIBVIRT_URI, *args], check=False)
    return result.output if result.ok else ""


def _backing_files(exclude: str) -> set[str]:
    """The file names in the disk chains of the libvirt domains not named ``exclude``*."""
    names = set()
    for domain in _virsh("list", "--all", "--name").split():
        if domain.startswith(exclude):
            continue
        for line in _virsh("domblklist", domain).splitlines()[2:]:
            fields = line.split()
            if len(fields) != 2 or not fields[1].startswith("/"):
                continue
            chain = run(["qemu-img", "info", "--force-share", "--backing-chain", "--output=json", fields[1]],
                        check=False)
            if chain.ok:
                names |= {Path(image["filename"]).name for image in json.loads(chain.output)}
    return names


def _clean_up(booted: BootedBox) -> None:
    """Destroy, remove the box and its pool volumes, delete the temporary home; report what failed."""
    problems = []
    try:
        booted.vagrant.destroy()
    except VagrantError:
        # Vagrant could not (a half-created machine, a broken state): go to libvirt directly.
        # vagrant-libvirt names domains <project folder>_<machine>, and their disks after them.
        for domain in _virsh("list", "--all", "--name").split():
            if domain.startswith(f"{booted.root.name}_"):
                _virsh("destroy", domain)
                _virsh("undefine", domain, "--remove-all-storage")
    leftovers = [d for d in _virsh("list", "--all", "--name").split() if d.startswith(f"{booted.root.name}_")]
    problems += [f"domain {domain} is still defined" for domain in leftovers]
    in_use = _backing_files(exclude=f"{booted.root.name}_")
    for volume in pool_volumes(booted.name, booted.version):
        if volume in in_use:
            # Another boot of the same version (a second test-box, the bench) still runs on it: its
            # own clean-up removes it.
            log.info("test-box: keeping %s, the base of another VM's disk", volume)
            continue
        result = run(["virsh", "-c", LIBVIRT_URI, "vol-delete", "--pool", "default", volume], check=False)
        if not result.ok:
            problems.append(f"vol-delete {volume}: {result.errors.strip()}")
    for nvram in NVRAM_DIR.glob(f"{booted.root.name}_*_VARS.fd"):
        try:
            nvram.unlink()
        except OSError as error:
            problems.append(f"rm {nvram}: {error.strerror}")
    shutil.rmtree(booted.root, ignore_errors=True)
    log.info("test-box: cleaned up %s %s", booted.name, booted.version)
    if problems:
        raise CleanupError("cleanup failed: " + "; ".join(problems))
