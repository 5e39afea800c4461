"""The SBOM inside every image: what dpkg says is installed, and the label that names it."""

from __future__ import annotations

import hashlib
import json

import pytest

from boxwright.image.sbom import (
    SBOM_LABEL,
    SBOM_PATH,
    read_sbom,
)
from boxwright.provenance import DIRTY_LABEL, INPUT_LABEL


@pytest.fixture(scope="module")
def sbom(engine, image_id):
    return json.loads(read_sbom(engine, image_id))


def test_sbom_file_matches_its_label(engine, containers, image_id):
    data = containers.run(image_id, ["cat", SBOM_PATH], remove=True)
    assert hashlib.sha256(data).hexdigest() == engine.images.get(image_id).labels[SBOM_LABEL]


def test_sbom_lists_the_defined_packages_at_their_versions(containers, image_id, image_definition, sbom):
    versions = {c["name"]: c["version"] for c in sbom["components"]}
    for package in image_definition.packages:
        installed = containers.run(image_id, ["dpkg-query", "-W", "-f", "${Version}\n", package],
                                   remove=True).decode().strip()
        assert versions[package] == installed


def test_sbom_names_the_image_and_every_package_has_a_purl(image_definition, sbom):
    assert sbom["bomFormat"] == "CycloneDX"
    name, version = f"boxwright/{image_definition.name}", image_definition.version
    assert sbom["metadata"]["component"] == {"type": "container", "name": name, "version": version}
    assert all(c["purl"].startswith(f"pkg:deb/debian/{c['name']}@") for c in sbom["components"])
    assert {"dpkg", "runit", "bash"} <= {c["name"] for c in sbom["components"]}


def test_provenance_labels_complete(engine, image_id):
    labels = engine.images.get(image_id).labels
    for key in ("source", "revision", "created", "version", "title"):
        assert labels[f"org.opencontainers.image.{key}"]
    assert len(labels[INPUT_LABEL]) == 64
    assert len(labels["io.boxwright.base.input-hash"]) == 64
    assert labels[DIRTY_LABEL] in {"true", "false"}
