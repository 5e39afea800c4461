"""The VirtualBox flavour of a box, as Vagrant's VirtualBox provider imports it.

Vagrant runs ``VBoxManage import <box dir>/box.ovf`` (that exact name, see its
``providers/virtualbox/action/import.rb``), so the ``.box`` holds ``box.ovf``, the
disk as a streamOptimized VMDK (the only VMDK flavour OVF packages carry; written by
:mod:`boxwright.box.vmdk`),
``box.mf`` with the SHA256 of both, ``metadata.json`` and a Vagrantfile.

The OVF declares what the box needs: the definition's CPUs and memory, the disk on
a SATA (AHCI) controller, and a virtio-net NIC: Debian's cloud kernel has
``virtio_net`` but no ``e1000``, VirtualBox's default NIC, so with that one the VM
never gets a network.  The Vagrantfile sets ``default_nic_type = "virtio"`` too, so
every NIC Vagrant adds is virtio as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boxwright.box.catalog import sha256_file
from boxwright.box.definition import BoxDefinition
from boxwright.render import render_template

__all__ = [
    "MANIFEST",
    "NIC_TYPE",
    "OVF",
    "VMDK",
    "Disk",
    "manifest",
    "metadata",
    "render_ovf",
    "render_vagrantfile",
]

OVF = "box.ovf"
VMDK = "box-disk001.vmdk"
MANIFEST = "box.mf"
#: OVF ResourceSubType of the NIC (what VirtualBox's own OVF export writes for virtio-net).
NIC_TYPE = "virtio"


@dataclass(frozen=True)
class Disk:
    """The disk file the OVF references: its name, size in bytes and virtual capacity in bytes."""

    file: str
    size: int
    capacity: int


def _context(box: BoxDefinition, version: str) -> dict[str, Any]:
    return {
        "box_name": box.box_name,
        "version": version,
        "vm_name": f"{box.name}-{version}",
        "cpus": box.cpus,
        "memory": box.memory,
        "nic": NIC_TYPE,
    }


def render_ovf(box: BoxDefinition, version: str, disk: Disk) -> str:
    return render_template("box/virtualbox/box.ovf.j2", {**_context(box, version), "disk": disk})


def render_vagrantfile(box: BoxDefinition, version: str) -> str:
    return render_template("box/virtualbox/Vagrantfile.j2", _context(box, version))


def manifest(files: list[Path]) -> str:
    """``box.mf``: one ``SHA256(name)= hex`` line per file (the OVF 1.x manifest format)."""
    return "".join(f"SHA256({path.name})= {sha256_file(path)}\n" for path in files)


def metadata(box: BoxDefinition) -> dict[str, Any]:
    return {"provider": "virtualbox"}
