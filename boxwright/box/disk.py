"""Stage 3 of a box: a sparse qcow2 with LVM (root + swap) and GRUB, via libguestfs.

BIOS boxes (amd64) get an msdos label and ``grub-install``; UEFI boxes (arm64) a GPT
label, an EFI system partition holding GRUB at the removable path, and LVM on the
second partition.

It is made in two steps so that a change to the box's own files costs one short appliance run:
the *base disk* (the rootfs, partitioned, formatted, bootable) is kept under the rootfs' key,
and the box's disk is a copy of it with the ``rootfs/`` files unpacked onto it.

The host kernel may have no device-mapper, no nbd and no partition nodes for
loop devices, so nothing here mounts or maps on the host.  libguestfs runs its
own small Linux VM (the "appliance") that has all of those, and works on the
qcow2 file directly; ``guestfish`` is driven with a script on stdin (the Python
binding is a Debian package the venv cannot see).  Under TCG the appliance is
slow at CPU work, so it only does what needs a kernel: partition, LVM, mkfs,
unpacking the rootfs tarball and ``grub-install``; ``grub.cfg`` comes from a
template instead of a (30 s under TCG) ``update-grub``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from boxwright.box.accel import Accel
from boxwright.box.definition import BoxDefinition
from boxwright.box.rootfs import EFI_LABEL
from boxwright.errors import BuildError
from boxwright.proc import stream, tail
from boxwright.render import TEMPLATES_DIR

__all__ = [
    "GRUB_INSTALL",
    "DiskLayout",
    "compress_argv",
    "copy_argv",
    "create_argv",
    "disk_layout",
    "files_script",
    "guestfish_script",
    "run_guestfish",
]

#: Marker guestfish echoes between steps so progress and failures name the step.
STEP = "boxwright-step:"
APPLIANCE_MEMORY_MB = 1024
#: Runs grub-install on the disk that holds the VG (device names inside `command` are the appliance's).
GRUB_INSTALL = TEMPLATES_DIR / "box" / "grub-install.sh"
GRUB_INSTALL_IN_ROOT = "/tmp/boxwright-grub-install.sh"
#: UEFI disks: the EFI system partition's size, its GPT type, the removable-media boot folder.
ESP_MB = 256
ESP_TYPE = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
ESP_BOOT_DIR = "EFI/BOOT"


@dataclass(frozen=True)
class DiskLayout:
    """Where everything goes on the disk (device names as the appliance sees them)."""

    size_gb: int
    vg: str
    root: str
    swap: str
    swap_mb: int
    #: UEFI: a GPT label, the EFI system partition first and LVM on the second partition.
    uefi: bool = False
    disk: str = "/dev/sda"

    @property
    def partition(self) -> str:
        """The LVM physical volume."""
        return f"{self.disk}2" if self.uefi else f"{self.disk}1"

    @property
    def esp(self) -> str:
        return f"{self.disk}1"

    @property
    def root_device(self) -> str:
        return f"/dev/{self.vg}/{self.root}"

    @property
    def swap_device(self) -> str:
        return f"/dev/{self.vg}/{self.swap}"


def disk_layout(box: BoxDefinition) -> DiskLayout:
    return DiskLayout(box.disk_gb, box.lvm.vg, box.lvm.root, box.lvm.swap, box.lvm.swap_mb, box.platform.uefi)


def create_argv(path: Path, size_gb: int) -> list[str]:
    """An empty, sparse qcow2 of the defined size (no preallocation)."""
    return ["qemu-img", "create", "-q", "-f", "qcow2", "-o", "preallocation=off", str(path), f"{size_gb}G"]


def copy_argv(source: Path, target: Path) -> list[str]:
    """A copy of a qcow2 that shares blocks where the file system can (reflink), sparse elsewhere."""
    return ["cp", "--reflink=auto", "--sparse=always", str(source), str(target)]


def compress_argv(source: Path, target: Path, compression: str) -> list[str]:
    """The box's ``box.img``: a compressed copy of the disk (unused clusters dropped)."""
    return [
        "qemu-img", "convert", "-q", "-c", "-O", "qcow2",
        "-o", f"compression_type={compression}", "-m", "8", "-W", str(source), str(target),
    ]


def guestfish_script(layout: DiskLayout, disk: Path, rootfs_tar: Path, smp: int,
                     efi_binary: Path | None = None) -> str:
    """The guestfish commands that turn an empty qcow2 into a bootable LVM disk of the rootfs:
    the *base disk*, which a box's own files (:func:`files_script`) then go onto, in a copy.

    A UEFI layout needs ``efi_binary`` (GRUB, :mod:`boxwright.box.efi`) for the EFI system partition.
    """
    if layout.uefi and efi_binary is None:
        raise ValueError("a UEFI disk needs its EFI binary")
    return _script([
        _launch(disk, smp),
        *(_gpt_label(layout) if layout.uefi else _msdos_label(layout)),
        (f"LVM: VG {layout.vg}, LVs {layout.swap} ({layout.swap_mb} MB) and {layout.root}", [
            f"pvcreate {layout.partition}",
            f"vgcreate {layout.vg} {layout.partition}",
            f"lvcreate {layout.swap} {layout.vg} {layout.swap_mb}",
            f"lvcreate-free {layout.root} {layout.vg} 100",
        ]),
        ("mkfs ext4 and mkswap", [
            f"mkfs ext4 {layout.root_device} label:{layout.root}",
            f"mkswap {layout.swap_device} label:{layout.swap}",
            f"mount {layout.root_device} /",
        ]),
        ("unpack the rootfs", [f"tar-in {_q(rootfs_tar)} / xattrs:true acls:true"]),
        _uefi_loader(layout, efi_binary) if efi_binary is not None else ("grub-install (BIOS)", [
            f"upload {_q(GRUB_INSTALL)} {GRUB_INSTALL_IN_ROOT}",
            f'command "sh {GRUB_INSTALL_IN_ROOT} {layout.vg}"',
            f"rm {GRUB_INSTALL_IN_ROOT}",
        ]),
        ("unmount and flush", ["umount-all", "shutdown"]),
    ])


def _msdos_label(layout: DiskLayout) -> list[tuple[str, list[str]]]:
    return [("msdos label, one partition for LVM", [
        f"part-init {layout.disk} mbr",
        f"part-add {layout.disk} p 2048 -1",
        f"part-set-bootable {layout.disk} 1 true",
    ])]


def _gpt_label(layout: DiskLayout) -> list[tuple[str, list[str]]]:
    esp_end = 2048 + ESP_MB * 2048 - 1
    return [
        (f"GPT label, a {ESP_MB} MiB EFI system partition, one partition for LVM", [
            f"part-init {layout.disk} gpt",
            f"part-add {layout.disk} p 2048 {esp_end}",
            # The last 33 sectors hold the backup GPT.
            f"part-add {layout.disk} p {esp_end + 1} -34",
            f"part-set-gpt-type {layout.disk} 1 {ESP_TYPE}",
        ]),
        ("mkfs vfat (the EFI system partition)", [f"mkfs vfat {layout.esp} label:{EFI_LABEL}"]),
    ]


def _uefi_loader(layout: DiskLayout, efi_binary: Path) -> tuple[str, list[str]]:
    return (f"GRUB at the removable path {ESP_BOOT_DIR}/{efi_binary.name}", [
        "mkdir-p /boot/efi",
        f"mount {layout.esp} /boot/efi",
        f"mkdir-p /boot/efi/{ESP_BOOT_DIR}",
        f"upload {_q(efi_binary)} /boot/efi/{ESP_BOOT_DIR}/{efi_binary.name}",
    ])


def files_script(layout: DiskLayout, disk: Path, files_tar: Path, smp: int) -> str:
    """The guestfish commands that unpack the box's own ``rootfs/`` (a tar) onto a copy of the base disk."""
    return _script([
        _launch(disk, smp),
        ("the box's own files (its rootfs folder)", [
            f"mount {layout.root_device} /",
            f"tar-in {_q(files_tar)} /",
        ]),
        ("unmount and flush", ["umount-all", "shutdown"]),
    ])


def _launch(disk: Path, smp: int) -> tuple[str, list[str]]:
    return ("launch the libguestfs appliance", [
        f"add {_q(disk)} format:qcow2 cachemode:unsafe",
        f"set-smp {smp}",
        f"set-memsize {APPLIANCE_MEMORY_MB}",
        "run",
    ])


def _script(steps: list[tuple[str, list[str]]]) -> str:
    """The steps, each announced by a marker line (progress and failures name the step)."""
    lines = []
    for title, commands in steps:
        lines.append(f'echo "{STEP} {title}"')
        lines.extend(commands)
    lines.append(f'echo "{STEP} done"')
    return "\n".join(lines) + "\n"


def _q(path: Path) -> str:
    """guestfish quoting for a path argument."""
    text = str(path)
    if '"' in text or "\\" in text:
        raise BuildError(f"unsupported character in path {text!r}")
    return f'"{text}"'


def run_guestfish(
    script: str,
    accel: Accel,
    *,
    watch: Path,
    on_step: Callable[[str], None] = lambda _: None,
) -> None:
    """Run ``guestfish`` on ``script``; on any failure or Ctrl-C stop it and its appliance.

    ``watch`` is the disk the appliance has open: any QEMU still holding it
    after guestfish ends is ours, and is killed by its pid.
    """
    current, output = "start guestfish", []

    def watch_steps(line: str) -> None:
        nonlocal current
        if line.startswith(STEP):
            current = line[len(STEP):].strip()
            on_step(current)
        else:
            output.append(line)

    try:
        result = stream(["guestfish", "--no-progress-bars"], input=script, on_line=watch_steps,
                        env=accel.libguestfs_env(), check=False)
    finally:
        # The runner stops guestfish's process group; the appliance may sit outside it.
        _kill_qemu_using(watch)
    if result.dry:
        return
    if not result.ok or current != "done":
        raise BuildError(f"disk step '{current}' failed (guestfish {result.describe()}):\n{tail(output, 12)}")


def _kill_qemu_using(path: Path, grace: float = 5.0) -> None:
    """libguestfs' recovery process normally kills the appliance; make sure of it."""
    deadline = time.monotonic() + grace
    while pids := _qemu_pids_using(path):
        sig = signal.SIGTERM if time.monotonic() < deadline else signal.SIGKILL
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        time.sleep(0.2)


def _qemu_pids_using(path: Path) -> list[int]:
    needle = str(path).encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if b"qemu-system" in cmdline.split(b"\0", 1)[0] and needle in cmdline:
            pids.append(int(proc.name))
    return pids
