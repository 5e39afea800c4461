"""box.toml: defaults, the real docker-host definition, and one clear line per mistake."""

from __future__ import annotations

import pytest

from boxwright.box.definition import box_names, load_box
from boxwright.errors import DefinitionError


def test_defaults(write_box):
    box = load_box("sample", write_box('version = "1.2"\n'))
    assert (box.suite, box.cpus, box.memory, box.disk_gb) == ("trixie", 2, 2048, 40)
    assert (box.lvm.vg, box.lvm.root, box.lvm.swap, box.lvm.swap_mb) == ("boxwright", "root", "swap", 1024)
    assert box.docker == "docker.io"
    assert box.box_name == "boxwright/sample"
    assert box.hostname == "sample"


def test_docker_host_is_defined():
    assert "docker-host" in box_names()
    box = load_box("docker-host")
    assert box.users[0].name == "vagrant" and box.users[0].sudo
    assert "docker" in box.users[0].groups


def test_fixture_overrides_everything(box_fixtures):
    box = load_box("tiny", box_fixtures)
    assert (box.cpus, box.memory, box.disk_gb, box.disk_bus) == (1, 512, 4, "scsi")
    assert box.lvm.vg == "tinyvg" and box.lvm.swap_mb == 256


@pytest.mark.parametrize(
    ("toml", "key", "message"),
    [
        ('version = "1.2.3"\n', "version", "expected a version X.Y (each build adds its own .Z)"),
        ('version = "1.0"\ncpu = 2\n', "cpu", "did you mean 'cpus'"),
        ('version = "1.0"\nsuite = "trixy"\n', "suite", "did you mean 'trixie'"),
        ('version = "1.0"\ndisk_gb = 1\n', "disk_gb", "expected 2..2048 GB"),
        ('version = "1.0"\nmemory = "2G"\n', "memory", "expected an integer; got a string"),
        ('version = "1.0"\ndocker = "docker-ce"\n', "docker", "expected one of docker.io, none"),
        ('version = "1.0"\n[lvm]\nvg = "my-vg"\n', "lvm.vg", "no '-'"),
        ('version = "1.0"\n[lvm]\nswap = "root"\n', "lvm.swap", "must differ"),
        ('version = "1.0"\ndisk_gb = 2\n[lvm]\nswap_mb = 2048\n', "lvm.swap_mb", "no room"),
        ('version = "1.0"\npackages = ["Bad Name"]\n', "packages", "not one"),
        ('version = "1.0"\n[[users]]\nname = "root"\n', "users[0].name", "root is locked"),
        ('version = "1.0"\n[[users]]\nname = "a"\n[[users]]\nname = "a"\n', "users[1].name", "duplicate"),
        ('version = "1.0"\n[[users]]\nname = "a"\nauthorized_keys = ["nope.pub"]\n',
         "users[0].authorized_keys", "no such file"),
        ('version = "1.0"\ndocker = "none"\n[[users]]\nname = "a"\ngroups = ["docker"]\n',
         "users[0].groups", "needs docker"),
        ('version = "1.0"\ndocker = "none"\npreload_images = ["x/y:1"]\n', "preload_images", "needs docker"),
    ],
)
def test_definition_errors(write_box, toml, key, message):
    with pytest.raises(DefinitionError) as caught:
        load_box("sample", write_box(toml))
    error = caught.value
    assert error.key == key
    assert message in str(error)
    assert "\n" not in str(error)
    assert str(error).startswith(str(write_box(toml) / "sample" / "box.toml"))


def test_missing_version(write_box):
    with pytest.raises(DefinitionError, match="version: missing"):
        load_box("sample", write_box('suite = "trixie"\n'))


def test_unknown_box_names_the_known_ones(write_box):
    boxes = write_box('version = "1.0"\n')
    with pytest.raises(DefinitionError, match=r"no box definition 'other' \(known: sample\)"):
        load_box("other", boxes)
