"""The rules image and box definitions share: one per concept, the same answer in both."""

from __future__ import annotations

from pathlib import Path

import pytest

from boxwright.box.definition import load_box
from boxwright.errors import DefinitionError
from boxwright.image.definition import load_image
from boxwright.schema import (
    check_image_reference,
    check_image_references,
    check_mirror,
    check_name,
    check_package,
    check_packages,
    version_check,
)

DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize("name", ["baseimage", "docker-host", "baseimage-bookworm", "a", "0.1", "x_y"])
def test_good_names(name):
    assert check_name(name) is None


@pytest.mark.parametrize("name", ["", "Baseimage", "-x", ".hidden", "_x", "a b", "a/b", "ä"])
def test_bad_names(name):
    assert check_name(name) == (
        f"expected a-z, 0-9, '.', '_', '-' (starting with a letter or digit); got {name!r}")


@pytest.mark.parametrize(("parts", "version"), [
    (3, "0.1.0"), (3, "1.2.3"), (3, "2.0.0"), (3, "10.20.30"), (2, "1.0"), (2, "0.3"), (2, "12.345"),
])
def test_good_versions(parts, version):
    assert version_check(parts)(version) is None


@pytest.mark.parametrize(("parts", "version"), [
    (3, "1.0"), (3, "1.0.0.0"), (3, "v1.0.0"), (3, "1.0.0-rc1"), (3, "01.0.0"), (3, "1..0"), (3, ""),
    (2, "1.0.0"), (2, "1"), (2, "1.x"), (2, "1.00"), (2, " 1.0"),
])
def test_bad_versions(parts, version):
    shape = "X.Y.Z" if parts == 3 else "X.Y"
    assert version_check(parts)(version) == f"expected a version {shape}; got {version!r}"


def test_version_note_says_why():
    check = version_check(2, "each build adds its own .Z")
    assert check("1.0.0") == "expected a version X.Y (each build adds its own .Z); got '1.0.0'"


@pytest.mark.parametrize("url", ["http://deb.debian.org/debian", "https://mirror.example/debian",
                                 "file:///srv/mirror"])
def test_good_mirrors(url):
    assert check_mirror(url) is None


@pytest.mark.parametrize("url", ["deb.debian.org/debian", "ftp://x/debian", "http://", "", "HTTP//x"])
def test_bad_mirrors(url):
    assert check_mirror(url) == f"expected an http(s):// or file:// URL; got {url!r}"


@pytest.mark.parametrize("package", ["runit", "python3-minimal", "libstdc++6", "g++", "docker.io",
                                     "curl=8.5.0-2", "zlib1g=1:1.3.dfsg-3+b1", "xz-utils=5.4.1~rc1"])
def test_good_packages(package):
    assert check_package(package) is None


@pytest.mark.parametrize("package", ["Runit", "a", "-x", "has space", "curl=", "curl=8.5 0", "curl@1", ""])
def test_bad_packages(package):
    assert check_package(package) == f"expected Debian package names; {package!r} is not one"


def test_package_lists_name_the_first_bad_one():
    assert check_packages(("runit", "cron")) is None
    assert check_packages(("runit", "Bad", "Worse")) == "expected Debian package names; 'Bad' is not one"


GOOD_REFERENCES = [
    "debian", "debian:trixie-slim", "boxwright/baseimage:latest", "boxwright/baseimage:0.1.0-3f2c1a9b7d10",
    "127.0.0.1:5000/x:1", "localhost:5000/boxwright/baseimage:0.1.0", "localhost/x",
    "registry.example/team/app:v1", "Registry.Example:443/x:1", "[::1]:5000/x:1",
    f"x@{DIGEST}", f"127.0.0.1:5000/x:1@{DIGEST}", "x:UPPER_case.tag-1", "a__b/c--d/e.f",
]
BAD_REFERENCES = [
    "Debian Trixie", "Boxwright/baseimage:1", "X/y:1", "x/Y:1", "a:b:c", "a//b", "a/", "/a", "-a", "a-",
    "x:", "x:-tag", "x:" + "t" * 129, "x@sha256:abc", f"x@{DIGEST[:-1]}", "x@SHA256:" + "0" * 64,
    "127.0.0.1:port/x", "a" * 256, "",
]


@pytest.mark.parametrize("reference", GOOD_REFERENCES)
def test_good_image_references(reference):
    assert check_image_reference(reference) is None


@pytest.mark.parametrize("reference", BAD_REFERENCES)
def test_bad_image_references(reference):
    problem = check_image_reference(reference)
    assert problem is not None and problem.endswith(f"got {reference!r}")
    assert "image reference" in problem


def test_reference_lists_name_the_first_bad_one():
    assert check_image_references(("x:1", f"y@{DIGEST}")) is None
    assert check_image_references(("x:1", "Y:1", "Z:1")).endswith("got 'Y:1'")


# The same rule in both kinds of definition: what image `from` accepts, box `preload_images` accepts.

def _image(tmp_path: Path, reference: str) -> None:
    (tmp_path / "images" / "probe").mkdir(parents=True, exist_ok=True)
    (tmp_path / "images" / "probe" / "image.toml").write_text(f'version = "1.0.0"\nfrom = "{reference}"\n')
    load_image("probe", tmp_path / "images")


def _box(tmp_path: Path, reference: str) -> None:
    (tmp_path / "boxes" / "probe").mkdir(parents=True, exist_ok=True)
    (tmp_path / "boxes" / "probe" / "box.toml").write_text(
        f'version = "1.0"\npreload_images = ["{reference}"]\n')
    load_box("probe", tmp_path / "boxes")


@pytest.mark.parametrize("reference", ["127.0.0.1:5000/x:1", f"x@{DIGEST}", "boxwright/baseimage:latest",
                                       "x:UPPER"])
@pytest.mark.parametrize("load", [_image, _box], ids=["image-from", "box-preload"])
def test_both_definitions_accept_the_same_references(tmp_path, load, reference):
    load(tmp_path, reference)


@pytest.mark.parametrize("reference", ["X/y:1", "a:b:c", "x@sha256:abc"])
@pytest.mark.parametrize(("load", "key"), [(_image, "from"), (_box, "preload_images")],
                         ids=["image-from", "box-preload"])
def test_both_definitions_refuse_the_same_references(tmp_path, load, key, reference):
    with pytest.raises(DefinitionError, match=f"{key}: expected an image reference") as caught:
        load(tmp_path, reference)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("name", ["Bad", "-x"])
@pytest.mark.parametrize(("load", "kind"), [(load_image, "image"), (load_box, "box")])
def test_both_definitions_refuse_the_same_names(tmp_path, load, kind, name):
    with pytest.raises(DefinitionError, match=f"bad {kind} name: expected a-z, 0-9"):
        load(name, tmp_path)
