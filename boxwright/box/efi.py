"""GRUB for a UEFI box as one EFI binary, made on the host from the box's own GRUB modules.

A UEFI box boots GRUB from the removable path (``\\EFI\\BOOT\\BOOTAA64.EFI``), which
needs no NVRAM boot entry.  ``grub-install`` would have to run the box's own
(foreign-architecture) binaries inside the libguestfs appliance; ``grub-mkimage``
is architecture-neutral, so the host's makes the image from the modules the
rootfs' ``grub-efi-<arch>`` package installed.  The image carries the modules the
boot needs and a small embedded configuration that finds the root LV and reads
its ``/boot/grub/grub.cfg`` (rendered with the rootfs, as on BIOS boxes).
"""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path

from boxwright.box.definition import BoxDefinition
from boxwright.errors import BuildError
from boxwright.proc import run

__all__ = ["MODULES", "early_config", "grub_mkimage_argv", "make_efi_binary"]

#: What the image must hold to read grub.cfg from an ext4 LV on a GPT disk and boot Linux.
MODULES = ("part_gpt", "lvm", "ext2", "fat", "normal", "linux", "configfile", "search", "echo", "gzio")


def early_config(box: BoxDefinition) -> str:
    """The configuration built into the image: the root LV, then its grub.cfg."""
    return (f"set root=(lvm/{box.lvm.vg}-{box.lvm.root})\n"
            "set prefix=($root)/boot/grub\n"
            "configfile $prefix/grub.cfg\n")


def grub_mkimage_argv(box: BoxDefinition, modules_dir: Path, config: Path, output: Path) -> list[str]:
    return ["grub-mkimage", "--directory", str(modules_dir), "--format", box.platform.grub_target,
            "--output", str(output), "--config", str(config), "--prefix", "/boot/grub", *MODULES]


def make_efi_binary(box: BoxDefinition, rootfs_tar: Path, output: Path) -> None:
    """Write ``output`` (the box's ``BOOTAA64.EFI``) from the GRUB modules inside ``rootfs_tar``."""
    target = box.platform.grub_target
    wanted = f"usr/lib/grub/{target}/"
    with tempfile.TemporaryDirectory(prefix="efi-", dir=output.parent) as tmp:
        with tarfile.open(rootfs_tar) as tar:
            members = [m for m in tar
                       if m.name.removeprefix("./").startswith(wanted) and (m.isfile() or m.isdir())]
            if not any(m.name.endswith("/linux.mod") for m in members):
                raise BuildError(f"{rootfs_tar}: no GRUB {target} modules (is {box.platform.grub[0]} in it?)")
            tar.extractall(tmp, members=members, filter="data")
        config = Path(tmp) / "early.cfg"
        config.write_text(early_config(box))
        run(grub_mkimage_argv(box, Path(tmp) / wanted, config, output), what="grub-mkimage")
