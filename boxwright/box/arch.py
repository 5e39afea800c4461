"""What a box's architecture decides: firmware, boot loader, kernel, emulator, Vagrant domain.

amd64 boxes boot with BIOS and GRUB (``grub-pc``) on an MBR disk, as they always have.
arm64 boxes boot with UEFI (AAVMF, from ``qemu-efi-aarch64``): a GPT disk with an EFI system
partition holding GRUB at the removable path ``\\EFI\\BOOT\\BOOTAA64.EFI`` (so no NVRAM boot
entry is needed), root on LVM as on amd64.  vagrant-libvirt 0.11 boots aarch64 guests with
machine ``virt``, the UEFI loader plus a per-domain NVRAM file, no graphics, ACPI as the only
feature and a virtio tablet (the default PS/2 mouse is x86-only); under TCG (no KVM for
aarch64 on this host) the CPU must be ``custom``/``cortex-a57``: host-model is refused, and a
CPU without pointer authentication keeps TCG fast.

The catalog names the architecture (``architecture`` in each provider entry, which Vagrant
2.4 reads and Debian's Vagrant 2.3.4 ignores) and box file names carry it.
"""

from __future__ import annotations

from dataclasses import dataclass

from boxwright.errors import UsageError
from boxwright.platforms import PLATFORMS, Platform

__all__ = ["BOX_ARCHES", "BoxArch", "box_arch"]


@dataclass(frozen=True)
class BoxArch:
    """One box architecture."""

    debian: str  #: Debian/Vagrant catalog name: ``arm64``
    machine: str  #: libvirt/QEMU: ``aarch64``
    kernel: str  #: the default kernel package
    firmware: str  #: "bios" or "uefi"
    grub: tuple[str, ...]  #: boot loader packages
    grub_target: str  #: ``grub-install --target``
    emulator: str  #: qemu-system binary
    console: str  #: the serial console on the kernel line (``console=`` value)
    loader: str = ""  #: UEFI code (read-only pflash); empty for BIOS
    nvram_template: str = ""  #: UEFI variable store template
    firmware_package: str = ""  #: the Debian package with ``loader``
    machine_type: str = ""  #: libvirt machine type (empty: libvirt's default)
    tcg_cpu_model: str = "qemu64"  #: cpu_model under TCG
    efi_binary: str = ""  #: GRUB's name at the removable path ``\\EFI\\BOOT\\`` (UEFI only)

    @property
    def uefi(self) -> bool:
        return self.firmware == "uefi"

    @property
    def platform(self) -> Platform:
        """The same architecture by its other names (``qemu-aarch64`` runs its binaries here)."""
        return PLATFORMS[f"linux/{self.debian}"]


BOX_ARCHES: dict[str, BoxArch] = {
    "amd64": BoxArch(
        debian="amd64", machine="x86_64", kernel="linux-image-cloud-amd64", firmware="bios",
        grub=("grub-pc",), grub_target="i386-pc", emulator="/usr/bin/qemu-system-x86_64",
        console="ttyS0,115200n8",
    ),
    "arm64": BoxArch(
        debian="arm64", machine="aarch64", kernel="linux-image-cloud-arm64", firmware="uefi",
        grub=("grub-efi-arm64",), grub_target="arm64-efi", emulator="/usr/bin/qemu-system-aarch64",
        console="ttyAMA0,115200", efi_binary="BOOTAA64.EFI",
        loader="/usr/share/AAVMF/AAVMF_CODE.fd", nvram_template="/usr/share/AAVMF/AAVMF_VARS.fd",
        firmware_package="qemu-efi-aarch64", machine_type="virt", tcg_cpu_model="cortex-a57",
    ),
}


def box_arch(name: str) -> BoxArch:
    """Look an architecture up by its Debian name; bad input is one line naming the accepted ones."""
    try:
        return BOX_ARCHES[name]
    except KeyError:
        raise UsageError(f"unknown box architecture {name!r}: expected one of {', '.join(BOX_ARCHES)}") \
            from None
