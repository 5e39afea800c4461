"""Stage 5 of a box: the Vagrant catalog ``dist/boxes/<name>.json`` that ``vagrant box add`` reads.

Versions only ever get added.  Every build gets a new one because
vagrant-libvirt caches a box's disk in the libvirt pool by name *and* version:
a rebuilt box reusing a version would silently boot the old disk.

Version scheme: ``X.Y.Z`` where ``X.Y`` is the definition's ``version`` and
``Z`` is the build's UTC time as ``YYYYMMDDhhmmss`` (bumped by one if the
catalog already has that or a later ``Z`` for ``X.Y``).  So versions sort by
build time, stay unique when ``dist/`` is wiped, and a definition bump
(``1.0`` -> ``1.1``) is visible to users as a minor release.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from boxwright.atomic import atomic_file
from boxwright.errors import BuildError, CatalogError

__all__ = [
    "CHECKSUM_TYPE",
    "add_version",
    "build_version",
    "provider_entry",
    "read_catalog",
    "remove_versions",
    "sha256_file",
    "version_key",
    "write_catalog",
]

CHECKSUM_TYPE = "sha256"
PROVIDER = "libvirt"
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Lowercase hex sha256 of a file (what Vagrant compares against)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def build_version(base: str, catalog: dict[str, Any], now: datetime.datetime) -> str:
    """The version for a new build of definition version ``base`` (``X.Y``)."""
    patch = int(now.astimezone(datetime.UTC).strftime("%Y%m%d%H%M%S"))
    for entry in catalog.get("versions", []):
        match = _VERSION.match(str(entry.get("version", "")))
        if match and f"{match[1]}.{match[2]}" == base:
            patch = max(patch, int(match[3]) + 1)
    return f"{base}.{patch}"


def version_key(version: str) -> tuple[int, ...]:
    """Sort key: versions compare numerically, part by part (as Vagrant compares them)."""
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        raise CatalogError(f"version {version!r} is not numeric (X.Y.Z)") from None


def provider_entry(
    box_file: Path, checksum: str, provider: str = PROVIDER, *, architecture: str | None = None
) -> dict[str, str]:
    """One provider of one version: a file:// URL and the box file's sha256.

    ``architecture`` (``amd64``, ``arm64``) is what Vagrant 2.4+ matches against the host;
    older Vagrant (Debian's 2.3.4) ignores the key."""
    entry = {
        "name": provider,
        "url": box_file.resolve().as_uri(),
        "checksum_type": CHECKSUM_TYPE,
        "checksum": checksum.lower(),
    }
    if architecture is not None:
        entry["architecture"] = architecture
    return entry


def read_catalog(path: Path, box_name: str, description: str = "") -> dict[str, Any]:
    """The existing catalog, or an empty one; a catalog for another box is an error."""
    if not path.is_file():
        return {"name": box_name, "description": description, "versions": []}
    try:
        text = path.read_text()
    except OSError as error:
        raise BuildError(f"{path}: unreadable catalog ({error}); move it away to start a new one") from None
    return parse_catalog(text, str(path), box_name, BuildError, hint="; move it away to start a new one")


def parse_catalog(
    text: str | bytes, where: str, box_name: str,
    error: type[BuildError] | type[CatalogError] = CatalogError, hint: str = "",
) -> dict[str, Any]:
    """A catalog's JSON, checked to be a Vagrant box catalog for ``box_name``; ``error`` otherwise."""
    try:
        catalog = json.loads(text)
    except json.JSONDecodeError as problem:
        raise error(f"{where}: unreadable catalog ({problem}){hint}") from None
    if not isinstance(catalog, dict) or not isinstance(catalog.get("versions"), list):
        raise error(f"{where}: not a Vagrant box catalog (no 'versions' list)")
    if catalog.get("name") != box_name:
        raise error(f"{where}: catalog is for {catalog.get('name')!r}, not {box_name!r}")
    return catalog


def add_version(
    catalog: dict[str, Any], version: str, provider: dict[str, str] | list[dict[str, str]],
    description: str = "",
) -> dict[str, Any]:
    """A new catalog: the old versions untouched, ``version`` (one entry per provider) appended."""
    if any(entry.get("version") == version for entry in catalog["versions"]):
        raise BuildError(f"version {version} is already in the catalog of {catalog['name']}")
    providers = provider if isinstance(provider, list) else [provider]
    entry: dict[str, Any] = {"version": version, "providers": providers}
    if description:
        entry["description"] = description
    return {**catalog, "versions": [*catalog["versions"], entry]}


def remove_versions(catalog: dict[str, Any], versions: set[str]) -> dict[str, Any]:
    """A new catalog without ``versions`` (what prune-boxes removed)."""
    return {**catalog, "versions": [v for v in catalog["versions"] if v.get("version") not in versions]}


def write_catalog(path: Path, catalog: dict[str, Any]) -> None:
    """Replace the catalog atomically (a reader never sees half a file)."""
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(catalog, indent=2) + "\n")
