"""The backup service's definition: off by default (nothing ships), its options, its mistakes."""

from __future__ import annotations

from pathlib import Path

import pytest

from boxwright.errors import DefinitionError
from boxwright.image.build import render_image
from boxwright.image.definition import load_image
from boxwright.image.services import service_plan

VARIANTS = Path(__file__).parent.parent / "fixtures" / "service-images"
PROJECT_IMAGES = Path(__file__).parents[2] / "images"
BACKUP_FILES = ("etc/duply", "etc/backup", "etc/cron.d/backup", "usr/local/bin/backup",
                "usr/local/lib/boxwright/backup-s3-check")


def variant(tmp_path: Path, text: str):
    (tmp_path / "baseimage").symlink_to(PROJECT_IMAGES / "baseimage")
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "image.toml").write_text('extends = "baseimage"\n' + text)
    return load_image("v", tmp_path)


def test_off_by_default_and_then_nothing_of_it_ships(tmp_path):
    base = load_image("baseimage", PROJECT_IMAGES)
    assert not base.service_enabled("backup")
    plan = service_plan(base)
    assert not {"duplicity", "duply", "python3-boto3", "sqlite3"} & set(plan["packages"])
    rootfs = render_image(base, tmp_path / "ctx") / "rootfs"
    for path in BACKUP_FILES:
        assert not (rootfs / path).exists(), path
    assert "duply" not in (tmp_path / "ctx" / "Dockerfile").read_text()


def test_on_it_installs_duply_and_renders_the_profile_from_the_options(tmp_path):
    definition = load_image("baseimage-backup", VARIANTS)
    packages = set(service_plan(definition)["packages"])
    assert {"duplicity", "duply", "python3-boto3", "gnupg", "sqlite3"} <= packages
    rootfs = render_image(definition, tmp_path / "ctx") / "rootfs"
    for path in BACKUP_FILES:
        assert (rootfs / path).exists(), path
    assert not list(rootfs.rglob("*.j2"))
    conf = (rootfs / "etc/duply/main/conf").read_text()
    assert "MAX_FULLBKP_AGE='1M'" in conf and "MAX_AGE='6M'" in conf and "VOLSIZE=50" in conf
    assert 'TARGET="${BACKUP_TARGET:?' in conf and 'GPG_PW="$BACKUP_PASSPHRASE"' in conf
    exclude = (rootfs / "etc/duply/main/exclude").read_text().splitlines()
    assert exclude[-6:] == [
        "- /data/cache", "- /data/app.db", "- /data/app.db-*", "+ /data", "+ /srv/app", "- **"]
    cron = (rootfs / "etc/cron.d/backup").read_text()
    assert "17 3 * * * root silence-unless-failed /usr/local/bin/backup now >/proc/1/fd/1 2>&1\n" in cron


def test_defaults(tmp_path):
    options = variant(tmp_path, "[services]\nbackup = true\n").services["backup"]
    assert (options.paths, options.exclude, options.schedule) == (("/data",), (), "0 2 * * *")
    assert (options.full_every, options.keep, options.volume_mb) == ("1M", "6M", 50)


@pytest.mark.parametrize(("text", "expected"), [
    ("backup = { enabled = true, path = ['/x'] }", "services.backup.path: unknown key"),
    ("backup = { enabled = true, paths = ['data'] }", "services.backup.paths: expected absolute paths"),
    ("backup = { enabled = true, paths = [] }", "services.backup.paths: expected at least one absolute path"),
    ("backup = { enabled = true, schedule = '2am' }", "services.backup.schedule: expected a cron schedule"),
    ("backup = { enabled = true, keep = '6 months' }", "services.backup.keep: expected an interval like"),
    ("backup = { enabled = true, full_every = 30 }", "services.backup.full_every: expected"),
    ("backup = { enabled = true, exclude = ['cache'] }", "services.backup.exclude: expected absolute paths"),
    ("cron = false\nbackup = true", "services.backup: backup runs from cron: turn cron on or backup off"),
])
def test_mistakes_are_one_line_naming_the_key(tmp_path, text, expected):
    with pytest.raises(DefinitionError) as raised:
        variant(tmp_path, f"[services]\n{text}\n")
    message = str(raised.value)
    assert "\n" not in message
    assert expected in message, message
