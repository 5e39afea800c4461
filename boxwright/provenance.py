"""Where an artefact came from: git revision, commit time, source, input hashes.

Times come from ``SOURCE_DATE_EPOCH`` or the commit, never the wall clock, so
the same commit and inputs give the same labels, tags and files.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

from boxwright import PROJECT_ROOT
from boxwright.errors import ToolMissing
from boxwright.proc import run

__all__ = [
    "DIRTY_LABEL",
    "INPUT_LABEL",
    "git_dirty",
    "git_revision",
    "input_hash",
    "oci_labels",
    "source_date_epoch",
    "source_url",
    "tree_hash",
]

#: The hash of everything an image was built from (its rendered context and labels).
INPUT_LABEL = "io.boxwright.input-hash"
#: "true" when the checkout had uncommitted changes to tracked files at build time.
DIRTY_LABEL = "io.boxwright.source.dirty"


def _git(*args: str) -> str:
    """git's answer, or '' outside a checkout (or without git)."""
    try:
        result = run(["git", *args], cwd=PROJECT_ROOT, check=False, probe=True)
    except ToolMissing:
        return ""
    return result.output.strip() if result.ok else ""


@functools.cache
def git_revision() -> str:
    """The full commit id of the checkout, or 'unknown' outside git."""
    return _git("rev-parse", "HEAD") or "unknown"


def git_dirty() -> bool:
    """True when tracked files differ from the commit."""
    return bool(_git("status", "--porcelain", "--untracked-files=no"))


def source_date_epoch() -> int:
    """SOURCE_DATE_EPOCH if set, else the commit time, else 0 (never 'now')."""
    if (value := os.environ.get("SOURCE_DATE_EPOCH", "")).isdigit():
        return int(value)
    commit_time = _git("log", "-1", "--format=%ct")
    return int(commit_time) if commit_time.isdigit() else 0


def source_url() -> str:
    """The origin remote if there is one, else the checkout's path."""
    return _git("config", "--get", "remote.origin.url") or f"file://{PROJECT_ROOT}"


def input_hash(inputs: Any) -> str:
    """A sha256 over a JSON-serialisable description of everything that shapes an output."""
    blob = json.dumps(inputs, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def tree_hash(root: Path) -> str:
    """A sha256 over a directory's paths, file types, modes, contents and link targets (not mtimes)."""
    entries = []
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        relative = path.relative_to(root).as_posix()
        if stat.S_ISLNK(info.st_mode):
            entries.append((relative, "link", os.readlink(path)))
        elif stat.S_ISDIR(info.st_mode):
            entries.append((relative, "dir", oct(stat.S_IMODE(info.st_mode))))
        else:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            entries.append((relative, oct(stat.S_IMODE(info.st_mode)), digest))
    return input_hash(entries)


def oci_labels(title: str, version: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The org.opencontainers.image.* labels every boxwright image carries."""
    created = datetime.datetime.fromtimestamp(source_date_epoch(), datetime.UTC)
    labels = {
        "org.opencontainers.image.title": title,
        "org.opencontainers.image.version": version,
        "org.opencontainers.image.created": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "org.opencontainers.image.revision": git_revision(),
        "org.opencontainers.image.source": source_url(),
        DIRTY_LABEL: "true" if git_dirty() else "false",
    }
    labels.update(extra or {})
    return labels
