"""Compare streamOptimized VMDKs from boxwright's writer and from qemu-img."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

__all__ = ["qemu_img_vmdk", "without_cid"]

_DESCRIPTOR = slice(512, 21 * 512)  # sectors 1-20 (qemu-img's descriptor offset and size)


def without_cid(path: Path) -> tuple[bytes, bytes, bytes]:
    """(header, descriptor text with CID blanked, the rest): qemu-img's CID is random and unpadded."""
    data = path.read_bytes()
    descriptor = re.sub(rb"\nCID=[0-9a-f]+\n", b"\nCID=\n", data[_DESCRIPTOR].rstrip(b"\0"), count=1)
    return data[:_DESCRIPTOR.start], descriptor, data[_DESCRIPTOR.stop:]


def qemu_img_vmdk(source: Path, target: Path) -> Path:
    """What ``qemu-img convert`` writes as a streamOptimized VMDK."""
    subprocess.run(["qemu-img", "convert", "-O", "vmdk", "-o", "subformat=streamOptimized", str(source),
                    str(target)], check=True, capture_output=True)
    return target
