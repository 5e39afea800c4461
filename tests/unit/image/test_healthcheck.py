"""The image's HEALTHCHECK: options in the definition, rendered into the Dockerfile."""

from __future__ import annotations

from pathlib import Path

import pytest

import support
from boxwright.errors import DefinitionError
from boxwright.image.build import render_image
from boxwright.image.definition import load_image

ROOT = support.ROOT
FIXTURES = ROOT / "tests" / "fixtures" / "images"
GOOD = 'version = "1.0.0"\nbootstrap = { suite = "trixie" }\n'


def define(root: Path, text: str, name: str = "hc") -> Path:
    (root / name).mkdir(parents=True, exist_ok=True)
    (root / name / "image.toml").write_text(text)
    return root / name


def healthcheck_lines(dockerfile: Path) -> list[str]:
    lines = dockerfile.read_text().replace("\\\n", "").splitlines()
    return [" ".join(line.split()) for line in lines if line.startswith("HEALTHCHECK")]


def test_baseimage_declares_it_with_the_definition_options(tmp_path):
    image = load_image("baseimage", ROOT / "images")
    assert image.healthcheck_enabled
    assert (image.healthcheck.interval, image.healthcheck.timeout) == (5.0, 3.0)
    out = render_image(image, tmp_path / "ctx")
    assert healthcheck_lines(out / "Dockerfile") == [
        "HEALTHCHECK --interval=5s --timeout=3s --start-period=20s --retries=2 "
        'CMD ["/usr/local/bin/service-status", "--health", "--timeout", "2"]'
    ]
    assert (out / "rootfs/usr/local/bin/service-status").stat().st_mode & 0o111


def test_on_by_default_when_the_image_ships_the_tool(tmp_path):
    base = define(tmp_path, GOOD)
    assert not load_image("hc", tmp_path).healthcheck_enabled  # no service-status: off
    tool = base / "rootfs/usr/local/bin/service-status"
    tool.parent.mkdir(parents=True)
    tool.write_text("#!/bin/sh\n")
    image = load_image("hc", tmp_path)
    assert image.healthcheck_enabled and image.healthcheck.retries == 2


def test_turned_off_renders_healthcheck_none(tmp_path):
    out = render_image(load_image("minimal", FIXTURES), tmp_path / "ctx")
    assert healthcheck_lines(out / "Dockerfile") == ["HEALTHCHECK NONE"]


def test_command_timeout_stays_inside_dockers():
    image = load_image("minimal", FIXTURES)
    assert image.healthcheck.interval == 2.5
    for timeout, own in ((3.0, 2.0), (0.6, 0.3), (10.0, 9.0)):
        check = type(image.healthcheck)(timeout=timeout)
        assert check.command_timeout == own


@pytest.mark.parametrize(
    ("table", "key", "expected"),
    [
        ("intervall = 5", "healthcheck.intervall", "did you mean 'interval'?"),
        ("retry = 3", "healthcheck.retry", "did you mean 'retries'?"),
        ("interval = '5s'", "healthcheck.interval", "expected a number; got a string"),
        ("timeout = 0", "healthcheck.timeout", "expected a number of seconds > 0"),
        ("retries = 0", "healthcheck.retries", "expected at least 1"),
        ("start_period = -1", "healthcheck.start_period", "expected >= 0"),
        ("enabled = 'yes'", "healthcheck.enabled", "expected true or false"),
        ("enabled = true", "healthcheck.enabled", "no layer ships /usr/local/bin/service-status"),
    ],
)
def test_mistakes_are_one_line(tmp_path, table, key, expected):
    path = define(tmp_path, f"{GOOD}[healthcheck]\n{table}\n") / "image.toml"
    with pytest.raises(DefinitionError) as caught:
        load_image("hc", tmp_path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(path))
    assert caught.value.key == key and expected in message
