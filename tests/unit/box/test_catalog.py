"""The Vagrant catalog: versions only get added, checksums are right, the format is Vagrant's."""

from __future__ import annotations

import datetime
import hashlib
import json

import pytest

from boxwright.box.catalog import (
    add_version,
    build_version,
    provider_entry,
    read_catalog,
    sha256_file,
    write_catalog,
)
from boxwright.errors import BuildError

NOW = datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)


def test_version_is_definition_version_plus_build_time():
    assert build_version("1.0", {"versions": []}, NOW) == "1.0.20250102030405"


def test_version_is_bumped_past_existing_ones():
    catalog = {"versions": [{"version": "1.0.20250102030405"}, {"version": "2.0.99990101000000"}]}
    assert build_version("1.0", catalog, NOW) == "1.0.20250102030406"
    assert build_version("2.0", catalog, NOW) == "2.0.99990101000001"
    assert build_version("1.1", catalog, NOW) == "1.1.20250102030405"


def test_checksum_is_lowercase_sha256(tmp_path):
    box = tmp_path / "x.box"
    box.write_bytes(b"boxwright" * 100_000)
    assert sha256_file(box) == hashlib.sha256(box.read_bytes()).hexdigest()
    entry = provider_entry(box, "ABCDEF")
    assert entry == {"name": "libvirt", "url": f"file://{box}", "checksum_type": "sha256",
                     "checksum": "abcdef"}


def test_catalog_appends_and_never_rewrites(tmp_path, golden):
    path = tmp_path / "tiny.json"
    catalog = read_catalog(path, "boxwright/tiny", "a test box")
    assert catalog == {"name": "boxwright/tiny", "description": "a test box", "versions": []}
    for version in ("0.3.20250101000000", "0.3.20250102000000"):
        box = tmp_path / version / "tiny-libvirt.box"
        box.parent.mkdir()
        box.write_text(version)
        catalog = add_version(read_catalog(path, "boxwright/tiny", "a test box"), version,
                              provider_entry(box, sha256_file(box)))
        before = path.read_text() if path.exists() else None
        write_catalog(path, catalog)
        if before is not None:
            old = json.loads(before)["versions"]
            assert json.loads(path.read_text())["versions"][: len(old)] == old
    expected = (golden / "tiny.catalog.json").read_text().replace("@TMP@", str(tmp_path))
    assert path.read_text() == expected
    with pytest.raises(BuildError, match="already in the catalog"):
        add_version(catalog, "0.3.20250101000000", {})


def test_catalog_for_another_box_is_refused(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"name": "someone/else", "versions": []}))
    with pytest.raises(BuildError, match="catalog is for 'someone/else'"):
        read_catalog(path, "boxwright/tiny")
    path.write_text("{not json")
    with pytest.raises(BuildError, match="unreadable catalog"):
        read_catalog(path, "boxwright/tiny")
