"""Stage keys: each stage's key moves exactly when one of its inputs (or an upstream key) does."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from boxwright import PROJECT_ROOT
from boxwright.box.build import stage_keys
from boxwright.box.definition import load_box
from boxwright.box.rootfs import mmdebstrap_argv
from boxwright.box.stages import StageCache, digest, tree_digest

TOOLS = {"mmdebstrap": "1.3.5", "qemu-img": "7.2.22", "libguestfs": "1.48.6"}


@pytest.fixture
def boxes(tmp_path, box_fixtures) -> Path:
    """The tiny fixture box without its preloaded image (whose id needs a Docker engine)."""
    shutil.copytree(box_fixtures / "tiny", tmp_path / "boxes" / "tiny")
    _edit(tmp_path / "boxes", 'preload_images = ["boxwright-test/preload:1"]', "")
    return tmp_path / "boxes"


def _keys(boxes: Path, tools=TOOLS):
    return stage_keys(load_box("tiny", boxes), tools)


def _edit(boxes: Path, old: str, new: str) -> None:
    path = boxes / "tiny" / "box.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_keys_are_stable_and_independent_of_where_the_definition_lives(boxes, tmp_path):
    shutil.copytree(boxes, tmp_path / "elsewhere")
    assert _keys(boxes) == _keys(boxes) == _keys(tmp_path / "elsewhere")
    keys = _keys(boxes)
    assert set(keys.packages) == {"libvirt", "virtualbox"}
    assert keys.input_hash == digest({"packages": keys.packages})


def test_a_rootfs_file_moves_files_disk_and_packages_not_rootfs(boxes):
    before = _keys(boxes)
    (boxes / "tiny" / "rootfs" / "etc" / "boxwright-fixture").write_text("edited\n")
    after = _keys(boxes)
    assert after.rootfs == before.rootfs and after.base_disk == before.base_disk
    assert after.files != before.files and after.disk != before.disk
    assert all(after.packages[p] != before.packages[p] for p in before.packages)


def test_a_file_mode_counts_too(boxes):
    before = _keys(boxes)
    (boxes / "tiny" / "rootfs" / "etc" / "boxwright-fixture").chmod(0o600)
    assert _keys(boxes).files != before.files


def test_vm_settings_move_only_the_packages(boxes):
    before = _keys(boxes)
    _edit(boxes, "memory = 512", "memory = 768")
    after = _keys(boxes)
    assert (after.rootfs, after.files, after.disk) == (before.rootfs, before.files, before.disk)
    assert after.packages != before.packages


def test_disk_size_moves_the_disk_not_the_rootfs(boxes):
    before = _keys(boxes)
    _edit(boxes, "disk_gb = 4", "disk_gb = 5")
    after = _keys(boxes)
    assert after.rootfs == before.rootfs and after.disk != before.disk and after.base_disk != before.base_disk


def test_packages_and_tool_versions_move_the_rootfs(boxes):
    before = _keys(boxes)
    assert _keys(boxes, {**TOOLS, "mmdebstrap": "1.5.0"}).rootfs != before.rootfs
    assert _keys(boxes, {**TOOLS, "libguestfs": "1.52.0"}).rootfs == before.rootfs
    assert _keys(boxes, {**TOOLS, "libguestfs": "1.52.0"}).disk != before.disk
    assert _keys(boxes, {**TOOLS, "libguestfs": "1.52.0"}).base_disk != before.base_disk
    _edit(boxes, 'packages = ["less"]', 'packages = ["less", "curl"]')
    assert _keys(boxes).rootfs != before.rootfs


def test_a_new_provider_keeps_the_disk(boxes):
    before = _keys(boxes)
    _edit(boxes, 'providers = ["libvirt", "virtualbox"]', 'providers = ["libvirt"]')
    after = _keys(boxes)
    assert after.disk == before.disk and after.packages == {"libvirt": before.packages["libvirt"]}
    assert after.input_hash != before.input_hash


def test_tree_digest_sees_names_content_and_links(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f").write_text("x")
    first = tree_digest(tmp_path / "a")
    (tmp_path / "a" / "link").symlink_to("f")
    second = tree_digest(tmp_path / "a")
    (tmp_path / "a" / "f").write_text("y")
    assert len({first, second, tree_digest(tmp_path / "a")}) == 3
    assert tree_digest(None) == tree_digest(tmp_path / "missing")


def test_cache_paths_carry_the_stage_and_a_short_key(tmp_path):
    cache = StageCache(tmp_path)
    assert cache.path("disk", "ab" * 32, ".qcow2") == tmp_path / f"disk-{'ab' * 8}.qcow2"
    assert cache.entries() == []


def test_keys_do_not_depend_on_where_the_checkout_is(tiny, tmp_path):
    """The rootfs command names files of the checkout (templates/base/...); every clone on the machine
    must still compute the same keys to share the machine's stage cache (the files' contents are
    hashed on their own)."""
    argv = mmdebstrap_argv(tiny, tmp_path / "o", tmp_path / "s.sh", tmp_path / "r.tar", tmp_path / "c")
    assert any(str(PROJECT_ROOT) in arg for arg in argv)
    anywhere = [arg.replace(str(PROJECT_ROOT), "<checkout>") for arg in argv]
    assert digest({"argv": argv}) == digest({"argv": anywhere})
    moved = [arg.replace("<checkout>", "/elsewhere") for arg in anywhere]
    assert digest({"argv": argv}) != digest({"argv": moved})
