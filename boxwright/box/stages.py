"""Which stages of a box build can be reused: each output is stored under a hash of its inputs.

A box is built in stages, each a function of what it reads:

* ``rootfs``  -- mmdebstrap: packages plus boxwright's customisation (users, services,
  initramfs; needs a chroot), from the definition, the rendered templates,
  ``templates/box/rootfs/``, the preloaded images' ids and mmdebstrap's version;
* ``files``   -- the box's own ``boxes/<name>/rootfs/``, laid over the rootfs on the disk;
* ``disk``    -- libguestfs: layout, rootfs and files, qemu-img's and libguestfs' versions;
* ``package`` -- one per provider: the disk converted and packed with its metadata.

A key hashes a stage's inputs and the key of the stage before it, so changing one
file under ``boxes/<name>/rootfs/`` changes the ``files``, ``disk`` and ``package``
keys and leaves ``rootfs`` (the slow part) reusable.  The box's *input hash* hashes
every package key: a build whose input hash matches an existing version reuses
that version outright.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boxwright import PROJECT_ROOT
from boxwright.proc import run

__all__ = ["StageCache", "StageKeys", "digest", "tool_versions", "tree_digest"]

#: Hex digits of a key used in file names (the full key is recorded in build.json and info.json).
SHORT = 16


def digest(value: Any) -> str:
    """sha256 of ``value`` as canonical JSON (sorted keys, no whitespace).

    Where the checkout is does not count (commands name files under it, whose contents are
    hashed on their own): every clone on the machine computes the same keys, so they share
    the machine's stage cache."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    text = text.replace(json.dumps(str(PROJECT_ROOT))[1:-1], "<checkout>")
    return hashlib.sha256(text.encode()).hexdigest()


def tree_digest(*roots: Path | None) -> str:
    """sha256 over every path under ``roots``: relative name, file type, mode and content."""
    hasher = hashlib.sha256()
    for root in roots:
        if root is None or not root.exists():
            hasher.update(b"\0absent\0")
            continue
        for path in sorted(root.rglob("*")):
            info = path.lstat()
            hasher.update(f"{path.relative_to(root)}\0{stat.S_IFMT(info.st_mode)}\0"
                          f"{stat.S_IMODE(info.st_mode):o}\0".encode())
            if path.is_symlink():
                hasher.update(os.readlink(path).encode())
            elif path.is_file():
                hasher.update(hashlib.sha256(path.read_bytes()).digest())
        hasher.update(b"\0root\0")
    return hasher.hexdigest()


_VERSION = re.compile(r"\d+(\.\d+)+")


def tool_versions(tools: tuple[str, ...] = ("mmdebstrap", "qemu-img", "guestfish")) -> dict[str, str]:
    """``{tool: version}`` from each tool's ``--version`` (libguestfs' is guestfish's)."""
    versions = {}
    for tool in tools:
        output = run([tool, "--version"], what=f"{tool} --version").output
        found = _VERSION.search(output)
        versions["libguestfs" if tool == "guestfish" else tool] = found[0] if found else output.strip()
    return versions


@dataclass(frozen=True)
class StageKeys:
    """The key of every stage of one build, and the box's input hash."""

    rootfs: str
    files: str
    #: The disk of the rootfs alone; ``disk`` is a copy of it with the files on it.
    base_disk: str
    disk: str
    packages: dict[str, str]

    @property
    def input_hash(self) -> str:
        return digest({"packages": self.packages})

    def as_dict(self) -> dict[str, Any]:
        return {"rootfs": self.rootfs, "files": self.files, "base_disk": self.base_disk, "disk": self.disk,
                "packages": self.packages, "input_hash": self.input_hash}


class StageCache:
    """Stage outputs under ``~/.cache/boxwright/boxes/<name>/stages/``: ``<stage>-<key>.<ext>``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, stage: str, key: str, suffix: str) -> Path:
        return self.root / f"{stage}-{key[:SHORT]}{suffix}"

    def entries(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.glob("*-*") if not p.name.startswith("."))
