"""The SBOM inside every image: what dpkg says is installed, and the label that names it."""

from __future__ import annotations

import hashlib
import json

import pytest

from boxwright.image.sbom import (
    SBOM_LABEL,
    SBOM_PATH,
    Package,
    cyclonedx,
    parse_dpkg_query,
    read_sbom,
    sbom_bytes,
)
from boxwright.provenance import DIRTY_LABEL, INPUT_LABEL


@pytest.fixture(scope="module")
def sbom(engine, image_id):
    return json.loads(read_sbom(engine, image_id))


@pytest.mark.image
def test_sbom_file_matches_its_label(engine, image_id):
    data = engine.containers.run(image_id, ["cat", SBOM_PATH], remove=True)
    assert hashlib.sha256(data).hexdigest() == engine.images.get(image_id).labels[SBOM_LABEL]


@pytest.mark.image
def test_sbom_lists_the_defined_packages_at_their_versions(engine, image_id, image_definition, sbom):
    versions = {c["name"]: c["version"] for c in sbom["components"]}
    for package in image_definition.packages:
        installed = engine.containers.run(image_id, ["dpkg-query", "-W", "-f", "${Version}\n", package],
                                          remove=True).decode().strip()
        assert versions[package] == installed


@pytest.mark.image
def test_sbom_names_the_image_and_every_package_has_a_purl(image_definition, sbom):
    assert sbom["bomFormat"] == "CycloneDX"
    name, version = f"boxwright/{image_definition.name}", image_definition.version
    assert sbom["metadata"]["component"] == {"type": "container", "name": name, "version": version}
    assert all(c["purl"].startswith(f"pkg:deb/debian/{c['name']}@") for c in sbom["components"])
    assert {"dpkg", "runit", "bash"} <= {c["name"] for c in sbom["components"]}


@pytest.mark.image
def test_provenance_labels_complete(engine, image_id):
    labels = engine.images.get(image_id).labels
    for key in ("source", "revision", "created", "version", "title"):
        assert labels[f"org.opencontainers.image.{key}"]
    assert len(labels[INPUT_LABEL]) == 64
    assert len(labels["io.boxwright.base.input-hash"]) == 64
    assert labels[DIRTY_LABEL] in {"true", "false"}


def test_dpkg_query_output_keeps_installed_packages_only():
    output = (
        "ii \tzlib1g\t1:1.3.dfsg-3+b1\tamd64\tzlib\n"
        "rc \told-thing\t1.0\tamd64\t\n"
        "ii \tbash\t5.2.37-2\tamd64\t\n"
    )
    assert parse_dpkg_query(output) == [
        Package("bash", "5.2.37-2", "amd64", "bash"),
        Package("zlib1g", "1:1.3.dfsg-3+b1", "amd64", "zlib"),
    ]


def test_purl_encodes_epoch_and_plus():
    assert Package("zlib1g", "1:1.3.dfsg-3+b1", "amd64", "zlib").purl == (
        "pkg:deb/debian/zlib1g@1%3A1.3.dfsg-3%2Bb1?arch=amd64"
    )


def test_sbom_bytes_are_deterministic():
    packages = [Package("b", "2", "all", "b"), Package("a", "1", "amd64", "a")]
    first = sbom_bytes(cyclonedx("boxwright/x", "1.0.0", packages))
    assert first == sbom_bytes(cyclonedx("boxwright/x", "1.0.0", list(reversed(packages))))
    assert b"timestamp" not in first
