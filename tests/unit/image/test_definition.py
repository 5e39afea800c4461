"""Image definitions: valid ones load into typed objects, every mistake is one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

import support
from boxwright.errors import DefinitionError
from boxwright.image.definition import image_names, load_image

FIXTURES = support.FIXTURES / "images"
PROJECT_IMAGES = support.ROOT / "images"


def write_definition(root: Path, name: str, text: str) -> Path:
    (root / name).mkdir(parents=True, exist_ok=True)
    path = root / name / "image.toml"
    path.write_text(text)
    return path


def test_fixture_loads_into_typed_fields():
    image = load_image("minimal", FIXTURES)
    assert image.name == "minimal"
    assert image.version == "1.2.3"
    assert image.bootstrap is not None and image.bootstrap.suite == "trixie"
    assert image.bootstrap.packages == ("ca-certificates",)
    assert image.packages == ("runit", "python3-minimal")
    assert image.env == {"GREETING": "hello world", "EMPTY": ""}
    assert image.labels == {"org.example.team": "platform"}


def test_services_default_on_sshd_installed_and_down():
    image = load_image("baseimage", PROJECT_IMAGES)
    assert all(image.service_enabled(name) for name in ("syslog", "cron", "logrotate", "sshd"))
    slim = load_image("baseimage-slim", PROJECT_IMAGES)
    assert not slim.service_enabled("sshd")
    assert slim.packages == ("python3-minimal", "runit")
    assert slim.directories == image.directories  # phusion's directories in both


def test_services_need_a_layer_that_ships_them():
    image = load_image("minimal", FIXTURES)  # no services/ folder in its layers
    assert not any(image.service_enabled(name) for name in ("syslog", "cron", "logrotate", "sshd"))


def test_extends_merges_tables_and_layers_rootfs():
    child = load_image("child", FIXTURES)
    assert child.bootstrap is not None
    assert child.bootstrap.suite == "bookworm"
    assert child.bootstrap.packages == ("ca-certificates",)  # inherited from the parent
    assert child.packages == ("runit",)  # lists replace
    assert child.env["GREETING"] == "hello world"
    assert [p.parent.name for p in child.rootfs] == ["minimal", "child"]


@pytest.mark.parametrize("name", image_names(PROJECT_IMAGES))
def test_shipped_definitions_are_valid(name):
    image = load_image(name, PROJECT_IMAGES)
    assert image.version.count(".") == 2


def test_variants_differ_only_in_data():
    """No template edit makes a variant: the bookworm one is its TOML and one config file
    (syslog-ng 3.38 spellings) layered over the baseimage folder."""
    trixie = load_image("baseimage", PROJECT_IMAGES)
    bookworm = load_image("baseimage-bookworm", PROJECT_IMAGES)
    assert trixie.suite == "trixie" and bookworm.suite == "bookworm"
    assert trixie.packages == bookworm.packages
    assert bookworm.layers[: len(trixie.layers)] == trixie.layers
    own = sorted(p.relative_to(bookworm.layers[-1]).as_posix()
                 for p in bookworm.layers[-1].rglob("*") if p.is_file())
    assert own == ["image.toml", "services/syslog/etc/syslog-ng/boxwright/stdout.conf",
                   "services/syslog/etc/syslog-ng/syslog-ng.conf"]


GOOD = 'version = "1.0.0"\nbootstrap = { suite = "trixie" }\n'


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        (GOOD + "pakages = []\n", "pakages", "unknown key (did you mean 'packages'?)"),
        (GOOD + "packages = 'curl'\n", "packages", "expected a list of strings; got a string"),
        (GOOD + "packages = [1]\n", "packages[0]", "expected a string; got an integer"),
        (GOOD + "packages = ['Not A Package']\n", "packages", "is not one"),
        ('bootstrap = { suite = "trixie" }\n', "version", "missing; expected a string"),
        ('version = "1.0"\nbootstrap = { suite = "trixie" }\n', "version", "expected a version X.Y.Z"),
        ('version = "1.0.0"\nbootstrap = { suite = "trixy" }\n', "bootstrap.suite",
         "(did you mean 'trixie'?)"),
        ('version = "1.0.0"\nbootstrap = { suite = "trixie", mirorr = "x" }\n', "bootstrap.mirorr",
         "did you mean 'mirror'"),
        ('version = "1.0.0"\nbootstrap = { suite = "trixie", mirror = "deb.debian.org" }\n',
         "bootstrap.mirror", "expected an http(s):// or file:// URL"),
        ('version = "1.0.0"\nbootstrap = { suite = "trixie", variant = "tiny" }\n',
         "bootstrap.variant", "expected one of"),
        ('version = "1.0.0"\nbootstrap = "trixie"\n', "bootstrap", "expected a table; got a string"),
        ('version = "1.0.0"\n', "bootstrap", "set exactly one of 'bootstrap' or 'from'"),
        (GOOD + 'from = "debian:trixie-slim"\n', "bootstrap", "set exactly one of"),
        ('version = "1.0.0"\nfrom = "Debian Trixie"\n', "from", "expected an image reference"),
        (GOOD + "services = { cron = 'yes' }\n", "services.cron", "expected true or false"),
        (GOOD + "services = { crond = false }\n", "services.crond", "did you mean 'cron'?"),
        (GOOD + "services = { cron = { enabeld = true } }\n", "services.cron.enabeld",
         "did you mean 'enabled'?"),
        (GOOD + "services = { syslog = { stdout = 'yes' } }\n", "services.syslog.stdout",
         "expected true or false; got a string"),
        (GOOD + "services = { prefix = 1 }\n", "services.prefix", "expected true or false"),
        (GOOD + "services = { cron = false, logrotate = true }\n", "services.logrotate",
         "logrotate runs from cron: turn cron on"),
        (GOOD + "labels = { a = 1 }\n", "labels.a", "expected a string; got an integer"),
        (GOOD + "version = 2\n", None, "invalid TOML"),
        ("version = \n", None, "invalid TOML"),
    ],
)
def test_mistakes_are_one_line_naming_file_and_key(tmp_path, text, key, expected):
    path = write_definition(tmp_path, "bad", text)
    with pytest.raises(DefinitionError) as caught:
        load_image("bad", tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    assert caught.value.key == key
    assert expected in message


def test_missing_definition_lists_the_known_ones(tmp_path):
    write_definition(tmp_path, "one", GOOD)
    with pytest.raises(DefinitionError, match=r"no image definition 'two' \(known: one\)"):
        load_image("two", tmp_path)


def test_extends_loop_is_named(tmp_path):
    write_definition(tmp_path, "a", GOOD + 'extends = "b"\n')
    write_definition(tmp_path, "b", GOOD + 'extends = "a"\n')
    with pytest.raises(DefinitionError, match="in a loop: a -> b -> a"):
        load_image("a", tmp_path)


def test_extends_unknown_parent(tmp_path):
    path = write_definition(tmp_path, "a", GOOD + 'extends = "nope"\n')
    with pytest.raises(DefinitionError) as caught:
        load_image("a", tmp_path)
    assert str(caught.value).startswith(f"{path}: extends: no image definition 'nope'")


def test_bad_image_name(tmp_path):
    write_definition(tmp_path, "Bad Name", GOOD)
    with pytest.raises(DefinitionError, match="bad image name"):
        load_image("Bad Name", tmp_path)


def test_from_replaces_parent_bootstrap(tmp_path):
    write_definition(tmp_path, "parent", GOOD)
    write_definition(tmp_path, "child", 'extends = "parent"\nfrom = "debian:trixie-slim"\n')
    child = load_image("child", tmp_path)
    assert child.bootstrap is None
    assert child.from_image == "debian:trixie-slim"
