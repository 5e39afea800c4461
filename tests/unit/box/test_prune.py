"""prune-boxes: old versions leave dist/, build/ and the catalog; the newest and published ones stay."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from boxwright import PROJECT_ROOT
from boxwright.box.catalog import add_version, provider_entry, read_catalog, sha256_file, write_catalog
from boxwright.box.prune import prune_boxes
from boxwright.box.stages import StageCache
from boxwright.errors import CatalogError, UsageError

ROOT = PROJECT_ROOT
VERSIONS = ["0.3.20250101000000", "0.3.20250102000000", "0.3.20250103000000", "0.3.20250104000000"]


@pytest.fixture
def layout(tmp_path) -> tuple[Path, Path]:
    """dist/ with four versions of 'tiny' (each with its own disk stage) and build/ with their stages."""
    dist, work = tmp_path / "dist" / "boxes", tmp_path / "build" / "boxes"
    cache = StageCache(work / "tiny" / "stages")
    cache.root.mkdir(parents=True)
    catalog_file = dist / "tiny.json"
    shared_rootfs = "a" * 64
    cache.path("rootfs", shared_rootfs, ".tar").write_bytes(b"r" * 1000)
    for index, version in enumerate(VERSIONS):
        disk = f"{index}" * 64
        cache.path("disk", disk, ".qcow2").write_bytes(b"d" * 100)
        cache.path("files", disk.replace(str(index), "f"), ".tar").write_bytes(b"f")
        target = dist / "tiny" / version
        target.mkdir(parents=True)
        box = target / f"tiny-{version}-libvirt-amd64.box"
        box.write_bytes(version.encode())
        (target / "build.json").write_text(json.dumps({"keys": {
            "rootfs": shared_rootfs, "files": disk.replace(str(index), "f"), "disk": disk}}))
        catalog = read_catalog(catalog_file, "boxwright/tiny")
        write_catalog(catalog_file, add_version(catalog, version, provider_entry(box, sha256_file(box))))
    (work / "tiny" / "rootfs.tar").write_bytes(b"old layout")
    return dist, work


def _versions(dist: Path) -> list[str]:
    return [v["version"] for v in json.loads((dist / "tiny.json").read_text())["versions"]]


def test_keeps_the_newest_and_what_they_were_built_from(layout):
    dist, work = layout
    result = prune_boxes("tiny", keep=2, dist=dist, work=work)
    assert result.removed == [VERSIONS[1], VERSIONS[0]]
    assert result.kept == [VERSIONS[3], VERSIONS[2]]
    assert _versions(dist) == VERSIONS[2:]
    assert sorted(p.name for p in (dist / "tiny").iterdir()) == VERSIONS[2:]
    left = sorted(p.name for p in StageCache(work / "tiny" / "stages").entries())
    assert left == sorted([f"disk-{'2' * 16}.qcow2", f"disk-{'3' * 16}.qcow2", f"files-{'f' * 16}.tar",
                           f"rootfs-{'a' * 16}.tar"])
    assert not (work / "tiny" / "rootfs.tar").exists()
    assert result.freed_bytes > 0


def test_never_removes_a_version_a_published_catalog_lists(layout, tmp_path):
    dist, work = layout
    published = tmp_path / "published.json"
    published.write_text(json.dumps({"name": "boxwright/tiny", "versions": [{"version": VERSIONS[0]}]}))
    result = prune_boxes("tiny", keep=1, published=[str(published)], dist=dist, work=work)
    assert result.protected == [VERSIONS[0]]
    assert result.removed == [VERSIONS[2], VERSIONS[1]]
    assert _versions(dist) == [VERSIONS[0], VERSIONS[3]]
    assert (dist / "tiny" / VERSIONS[0] / f"tiny-{VERSIONS[0]}-libvirt-amd64.box").is_file()


def test_dry_run_removes_nothing(layout):
    dist, work = layout
    before = sorted(p.relative_to(dist.parent) for p in dist.parent.rglob("*"))
    result = prune_boxes("tiny", keep=1, dist=dist, work=work, dry=True)
    assert len(result.removed) == 3
    assert sorted(p.relative_to(dist.parent) for p in dist.parent.rglob("*")) == before


def test_refuses_to_keep_nothing_and_unknown_boxes(layout, tmp_path):
    dist, work = layout
    with pytest.raises(UsageError, match="keep at least the newest"):
        prune_boxes("tiny", keep=0, dist=dist, work=work)
    with pytest.raises(CatalogError, match="no such catalog"):
        prune_boxes("nothere", dist=dist, work=work)
    with pytest.raises(CatalogError, match="cannot read the published catalog"):
        prune_boxes("tiny", published=[str(tmp_path / "missing.json")], dist=dist, work=work)
    assert _versions(dist) == VERSIONS


def test_task_prints_one_line_for_an_unreadable_published_catalog(layout, tmp_path):
    dist, work = layout
    code = ("import sys; from invoke import Program; import tasks; "
            "Program(namespace=tasks.ns).run(['invoke', 'prune-boxes', *sys.argv[1:]])")
    env = {**os.environ, "BOXWRIGHT_DIST_DIR": str(dist.parent), "BOXWRIGHT_CACHE_DIR": str(work.parent)}
    done = subprocess.run([sys.executable, "-c", code, "--box", "tiny", "--published",
                           "http://127.0.0.1:9/catalog.json"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env=env)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "cannot read the published catalog" in done.stderr
    ok = subprocess.run([sys.executable, "-c", code, "--box", "tiny", "--keep", "3"], cwd=ROOT,
                        capture_output=True, text=True, timeout=60, env=env)
    assert ok.returncode == 0, ok.stderr
    assert f"removed 1 version(s) {VERSIONS[0]}" in ok.stdout
    assert _versions(dist) == VERSIONS[1:]
