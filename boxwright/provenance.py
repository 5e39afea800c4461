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
import subprocess
from typing import Any

from boxwright import PROJECT_ROOT

__all__ = [
    "git_dirty",
    "git_revision",
    "input_hash",
    "oci_labels",
    "source_date_epoch",
    "source_url",
]


def _git(*args: str) -> str:
    try:
        result = subprocess.run(
            ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return ""
    return result.stdout.strip()


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


def oci_labels(title: str, version: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The org.opencontainers.image.* labels every boxwright image carries."""
    created = datetime.datetime.fromtimestamp(source_date_epoch(), datetime.UTC)
    labels = {
        "org.opencontainers.image.title": title,
        "org.opencontainers.image.version": version,
        "org.opencontainers.image.created": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "org.opencontainers.image.revision": git_revision(),
        "org.opencontainers.image.source": source_url(),
    }
    labels.update(extra or {})
    return labels
