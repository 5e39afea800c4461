"""The SBOM's pure parts: dpkg-query parsing, purls, deterministic bytes."""

from __future__ import annotations

from boxwright.image.sbom import Package, cyclonedx, parse_dpkg_query, sbom_bytes


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
