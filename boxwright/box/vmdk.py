"""A streamOptimized VMDK writer that deflates grains on every core.

``qemu-img convert -O vmdk -o subformat=streamOptimized`` deflates one 64 KiB grain
after another on one thread: 25 s of a box rebuild here.  This writer lays out the
file exactly as qemu-img does (the same header, descriptor, redundant and primary
grain directories and tables in front, one marker per compressed grain, the
same file length), and deflates with the same zlib at the
same level, so its output is byte for byte qemu-img's but for the descriptor's
``CID`` (a random number in qemu-img, a checksum of the grains here, so a build is
reproducible).  ``tests/unit/box/test_vmdk.py`` compares the two.

The source is read through ``qemu-img map``: only its data extents are read, and
all-zero grains are left out, as qemu-img leaves them out.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

from boxwright.proc import run

__all__ = ["GRAIN", "Written", "write_stream_optimized"]

SECTOR = 512
#: Bytes per grain (qemu-img's and VMware's default: 128 sectors).
GRAIN = 128 * SECTOR
_GTES_PER_GT = 512
_DESCRIPTOR_SECTORS = 20
_MAGIC = 0x564D444B  # "KDMV"
#: newline detection, redundant grain directory, compressed grains, markers
_FLAGS = (1 << 0) | (1 << 1) | (1 << 16) | (1 << 17)
_HEADER = struct.Struct("<IIIQQQQIQQQBccccH")
_MARKER = struct.Struct("<QI")
#: zlib level qemu's vmdk driver uses (compress(): Z_DEFAULT_COMPRESSION)
_LEVEL = 6
#: Grains deflated per batch (bounds memory to a few MB per worker).
_BATCH = 512
_ZERO_GRAIN = bytes(GRAIN)

_DESCRIPTOR = """\
# Disk DescriptorFile
version=1
CID={cid:x}
parentCID=ffffffff
createType="streamOptimized"

# Extent description
RW {sectors} SPARSE "{name}"

# The Disk Data Base
#DDB

ddb.virtualHWVersion = "4"
ddb.geometry.cylinders = "{cylinders}"
ddb.geometry.heads = "16"
ddb.geometry.sectors = "63"
ddb.adapterType = "ide"
ddb.toolsVersion = "2147483647"
"""


def _sectors(size: int) -> int:
    return -(-size // SECTOR)


def _data_extents(source: Path, fmt: str) -> list[tuple[int, int, int]]:
    """[(guest offset, length, offset in the file)] of the source's data, from ``qemu-img map``."""
    output = run(["qemu-img", "map", "-f", fmt, "--output=json", str(source)], what="qemu-img map").output
    extents = [e for e in json.loads(output) if e.get("data") and not e.get("zero")]
    if fmt not in ("qcow2", "raw") or any("offset" not in e or e.get("depth") for e in extents):
        raise ValueError(f"{source}: a plain qcow2 image is needed (no compressed or backing clusters)")
    return [(int(e["start"]), int(e["length"]), int(e["offset"])) for e in extents]


def _grains(path: Path, extents: list[tuple[int, int, int]]) -> Iterator[tuple[int, bytes]]:
    """(grain number, its 64 KiB) for every grain the extents touch, in order, zeros where unmapped."""
    by_grain: dict[int, list[tuple[int, int, int]]] = {}
    for start, length, offset in extents:
        position = start
        while position < start + length:
            grain = position // GRAIN
            end = min(start + length, (grain + 1) * GRAIN)
            by_grain.setdefault(grain, []).append((position - grain * GRAIN, end - position,
                                                   offset + position - start))
            position = end
    with path.open("rb") as handle:
        for grain in sorted(by_grain):
            pieces = by_grain[grain]
            if len(pieces) == 1 and pieces[0][0] == 0 and pieces[0][1] == GRAIN:
                yield grain, os.pread(handle.fileno(), GRAIN, pieces[0][2])
                continue
            data = bytearray(GRAIN)
            for at, length, offset in pieces:
                data[at:at + length] = os.pread(handle.fileno(), length, offset)
            yield grain, bytes(data)


def _deflate(item: tuple[int, bytes]) -> tuple[int, bytes | None]:
    grain, data = item
    return grain, None if data == _ZERO_GRAIN else zlib.compress(data, _LEVEL)


class Written(NamedTuple):
    """What :func:`write_stream_optimized` wrote: the file's bytes and the disk's virtual bytes."""

    size: int
    capacity: int


def write_stream_optimized(source: Path, target: Path, *, workers: int | None = None) -> Written:
    """Write ``source`` (qcow2 or raw) as a streamOptimized VMDK at ``target``."""
    info = json.loads(run(["qemu-img", "info", "--output=json", str(source)], what="qemu-img info").output)
    capacity = int(info["virtual-size"])
    if capacity % GRAIN:
        raise ValueError(f"{source}: virtual size {capacity} is not a whole number of 64 KiB grains")
    extents = _data_extents(source, str(info["format"]))
    sectors = capacity // SECTOR
    grains = capacity // GRAIN
    gt_count = -(-grains // _GTES_PER_GT)
    gt_sectors = _sectors(_GTES_PER_GT * 4)
    gd_sectors = _sectors(gt_count * 4)
    rgd_offset = 1 + _DESCRIPTOR_SECTORS
    gd_offset = rgd_offset + gd_sectors + gt_sectors * gt_count
    overhead = -(-(gd_offset + gd_sectors + gt_sectors * gt_count) // 128) * 128
    table = [0] * (gt_count * _GTES_PER_GT)
    last = cid = 0
    with target.open("wb") as out, ThreadPoolExecutor(workers or os.cpu_count() or 1) as pool:
        position = overhead
        out.seek(position * SECTOR)
        source_grains = _grains(source, extents)
        while True:
            batch = [item for _, item in zip(range(_BATCH), source_grains, strict=False)]
            if not batch:
                break
            for grain, compressed in pool.map(_deflate, batch):
                if compressed is None:
                    continue
                record = _MARKER.pack(grain * 128, len(compressed)) + compressed
                record += bytes(-len(record) % SECTOR)
                out.write(record)
                cid = zlib.crc32(record, cid)
                table[grain], last = position, position
                position += len(record) // SECTOR
        # qemu-img writes no end-of-stream marker: it leaves the file as long as the last grain's
        # allocation (a whole grain from its start) or its data, whichever ends later.
        end = max(position, last + 128 if last else 0)
        header = _HEADER.pack(_MAGIC, 3, _FLAGS, sectors, 128, 1, _DESCRIPTOR_SECTORS, _GTES_PER_GT,
                              rgd_offset, gd_offset, overhead, 0, b"\n", b" ", b"\r", b"\n", 1)
        out.seek(0)
        out.write(header + bytes(SECTOR - len(header)))
        descriptor = _DESCRIPTOR.format(cid=cid, sectors=sectors, name=target.name,
                                        cylinders=capacity // (63 * 16 * SECTOR)).encode()
        out.write(descriptor + bytes(_DESCRIPTOR_SECTORS * SECTOR - len(descriptor)))
        tables = struct.pack(f"<{len(table)}I", *table)
        for directory in (rgd_offset, gd_offset):
            entries = [directory + gd_sectors + i * gt_sectors for i in range(gt_count)]
            out.seek(directory * SECTOR)
            out.write(struct.pack(f"<{gt_count}I", *entries))
            out.seek((directory + gd_sectors) * SECTOR)
            out.write(tables)
        out.truncate(end * SECTOR)
    return Written(end * SECTOR, capacity)
