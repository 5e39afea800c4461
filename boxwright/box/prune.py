"""Remove old box versions from dist/, their stage outputs from build/, and them from the local catalog.

Never the newest ``keep`` versions, never a version that a published catalog you
name still lists (its users may ``vagrant box add`` it again), never a stage
output a kept version was built from.  The catalog is rewritten first (atomically),
so it never points at a deleted file.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from boxwright.box.catalog import read_catalog, remove_versions, version_key, write_catalog
from boxwright.box.publish import read_published
from boxwright.box.stages import SHORT, StageCache
from boxwright.errors import CatalogError, UsageError

__all__ = ["Pruned", "prune_boxes"]

log = logging.getLogger(__name__)


@dataclass
class Pruned:
    """What a prune removed and kept."""

    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    protected: list[str] = field(default_factory=list)
    stage_files: list[Path] = field(default_factory=list)
    freed_bytes: int = 0


def prune_boxes(
    name: str,
    *,
    keep: int = 1,
    published: tuple[str, ...] | list[str] = (),
    dist: Path | None = None,
    work: Path | None = None,
    endpoint: str = "",
    profile: str = "",
    dry: bool = False,
) -> Pruned:
    """Keep the newest ``keep`` versions of box ``name`` and those ``published`` lists; remove the rest."""
    from boxwright.box.build import dist_boxes, work_boxes

    if keep < 1:
        raise UsageError(f"--keep {keep}: keep at least the newest version (1 or more)")
    dist, work = dist or dist_boxes(), work or work_boxes()
    catalog_file = dist / f"{name}.json"
    if not catalog_file.is_file():
        raise CatalogError(f"{catalog_file}: no such catalog; nothing to prune")
    catalog = read_catalog(catalog_file, f"boxwright/{name}")
    versions = sorted((v["version"] for v in catalog["versions"]), key=version_key, reverse=True)
    listed = {str(v["version"]) for url in published
              for v in read_published(url, endpoint=endpoint, profile=profile)["versions"]}
    result = Pruned()
    result.kept = [v for v in versions[:keep]]
    result.protected = [v for v in versions[keep:] if v in listed]
    result.removed = [v for v in versions[keep:] if v not in listed]
    kept = set(result.kept) | set(result.protected)
    cache = StageCache(work / name / "stages")
    needed = set()
    for version in kept:
        needed |= _stage_keys(dist / name / version / "build.json")
    stale = [p for p in cache.entries() if p.name.split("-", 1)[1].split(".")[0] not in needed]
    old_layout = [p for p in (work / name / "rootfs.tar", work / name / "disk.qcow2") if p.is_file()]
    result.stage_files = stale + old_layout
    doomed = [dist / name / v for v in result.removed if (dist / name / v).exists()] + result.stage_files
    result.freed_bytes = sum(_size(p) for p in doomed)
    if dry:
        for path in doomed:
            log.info("would remove %s", path)
        return result
    if result.removed:
        write_catalog(catalog_file, remove_versions(catalog, set(result.removed)))
    for path in doomed:
        log.info("removing %s", path)
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    return result


def _stage_keys(report: Path) -> set[str]:
    """The (short) stage keys a version's build.json records."""
    try:
        keys = json.loads(report.read_text()).get("keys", {})
    except (OSError, ValueError):
        return set()
    return {str(keys[stage])[:SHORT] for stage in ("rootfs", "files", "base_disk", "disk")
            if stage in keys}


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.exists() else 0
