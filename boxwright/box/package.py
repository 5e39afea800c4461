"""Stage 4 of a box: the built disk packed as a ``.box`` for each provider the definition names.

A ``.box`` is a tar that Vagrant unpacks into its box directory:

* libvirt (vagrant-libvirt): ``metadata.json`` (format, virtual size), ``Vagrantfile``,
  ``info.json`` and ``box.img``, a compressed qcow2;
* virtualbox (Vagrant's VirtualBox provider): ``metadata.json``, ``Vagrantfile``, ``info.json``,
  ``box.ovf``, ``box-disk001.vmdk`` (streamOptimized, written by :mod:`boxwright.box.vmdk`)
  and ``box.mf`` (see :mod:`boxwright.box.virtualbox`).

Files are named ``<name>-<version>-<provider>-<arch>.box``.  Members get fixed
owners and the build's SOURCE_DATE_EPOCH as mtime.
"""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from boxwright.box import virtualbox, vmdk
from boxwright.box.definition import PROVIDERS, BoxDefinition
from boxwright.box.disk import compress_argv
from boxwright.box.rootfs import template_context
from boxwright.proc import run
from boxwright.provenance import source_date_epoch
from boxwright.render import render_template

__all__ = ["PROVIDERS", "Packaged", "box_file_name", "libvirt_metadata", "package",
           "qemu_info", "render_libvirt_vagrantfile"]

@dataclass
class Packaged:
    """One provider's ``.box``: where it is, how long it took, what is inside and how big."""

    provider: str
    path: Path
    seconds: float = 0.0
    sizes: dict[str, int] = field(default_factory=dict)
    members: list[str] = field(default_factory=list)


def box_file_name(box: BoxDefinition, version: str, provider: str) -> str:
    return f"{box.name}-{version}-{provider}-{box.arch}.box"


def libvirt_metadata(box: BoxDefinition) -> dict[str, Any]:
    """vagrant-libvirt's ``metadata.json``: the disk format and its size in whole GB."""
    return {"provider": "libvirt", "format": "qcow2", "virtual_size": box.disk_gb}


def render_libvirt_vagrantfile(box: BoxDefinition, version: str) -> str:
    return render_template("box/Vagrantfile.j2", template_context(box, version))


def qemu_info(path: Path) -> dict[str, Any]:
    output = run(["qemu-img", "info", "--output=json", str(path)], what="qemu-img info").output
    return dict(json.loads(output))


def package(
    box: BoxDefinition, version: str, provider: str, disk: Path, target: Path, info: dict[str, Any],
    work: Path,
) -> Packaged:
    """Write ``target/<box file name>`` for ``provider`` from ``disk``."""
    started = time.monotonic()
    path = target / box_file_name(box, version, provider)
    result = Packaged(provider, path)
    texts = {"info.json": json.dumps({**info, "provider": provider}, indent=2) + "\n"}
    with tempfile.TemporaryDirectory(prefix=f"package-{provider}-", dir=work) as tmp:
        files = _PACKERS[provider](box, version, disk, Path(tmp), texts, result)
        _write_tar(path, texts, files)
    result.members = [*texts, *(name for name, _ in files)]
    result.sizes["box"] = path.stat().st_size
    result.seconds = round(time.monotonic() - started, 1)
    return result


def _libvirt(box: BoxDefinition, version: str, disk: Path, tmp: Path, texts: dict[str, str],
             result: Packaged) -> list[tuple[str, Path]]:
    image = tmp / "box.img"
    run(compress_argv(disk, image, box.compression), what="qemu-img convert (qcow2)")
    result.sizes["box_img"] = image.stat().st_size
    texts["metadata.json"] = json.dumps(libvirt_metadata(box), indent=2) + "\n"
    texts["Vagrantfile"] = render_libvirt_vagrantfile(box, version)
    return [("box.img", image)]


def _virtualbox(box: BoxDefinition, version: str, disk: Path, tmp: Path, texts: dict[str, str],
                result: Packaged) -> list[tuple[str, Path]]:
    disk_file = tmp / virtualbox.VMDK
    written = vmdk.write_stream_optimized(disk, disk_file)
    ovf = tmp / virtualbox.OVF
    ovf.write_text(virtualbox.render_ovf(box, version, virtualbox.Disk(disk_file.name, *written)))
    mf = tmp / virtualbox.MANIFEST
    mf.write_text(virtualbox.manifest([ovf, disk_file]))
    result.sizes["vmdk"] = written.size
    texts["metadata.json"] = json.dumps(virtualbox.metadata(box), indent=2) + "\n"
    texts["Vagrantfile"] = virtualbox.render_vagrantfile(box, version)
    return [(ovf.name, ovf), (mf.name, mf), (disk_file.name, disk_file)]


_PACKERS: dict[str, Callable[..., list[tuple[str, Path]]]] = {"libvirt": _libvirt, "virtualbox": _virtualbox}
assert set(_PACKERS) == set(PROVIDERS)


def _write_tar(path: Path, texts: dict[str, str], files: list[tuple[str, Path]]) -> None:
    mtime = source_date_epoch()
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        for member, text in texts.items():
            data = text.encode()
            info = tarfile.TarInfo(member)
            info.size, info.mtime, info.mode = len(data), mtime, 0o644
            tar.addfile(info, io.BytesIO(data))
        for member, source in files:
            info = tar.gettarinfo(str(source), member)
            info.mtime, info.uid, info.gid, info.mode = mtime, 0, 0, 0o644
            info.uname = info.gname = "root"
            with source.open("rb") as handle:
                tar.addfile(info, handle)
