"""The bundled backup service against a real S3 server (SeaweedFS on 127.0.0.1, tests/support/s3.py).

One container of tests/fixtures/service-images/baseimage-backup/ (tests/support/backup.py: the
host's network, secrets as files in /run/secrets, the target in its environment). The module's
``history`` makes two real backups (a full one through the cron job's exact command, then an
incremental one while a writer changes a SQLite database) and the tests restore from them.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from boxwright.bench.backup import BackupContainer as Box
from boxwright.bench.backup import backup_container, volume_sizes

pytestmark = pytest.mark.image

VARIANT = "baseimage-backup"
SESSION = str(os.getpid())  # the label value tests/conftest.py sweeps


@pytest.fixture(scope="module")
def box(engine: Any, variant_image: Any, s3_server: Any, tmp_path_factory: Any) -> Iterator[Box]:
    secrets = tmp_path_factory.mktemp("secrets")
    with backup_container(engine, variant_image(VARIANT), s3_server, secrets, "box",
                          labels={"io.boxwright.test": SESSION}) as started:
        yield started


def cron_command(box: Box) -> str:
    """The command of the image's backup cron job, exactly as cron would run it (with /bin/sh)."""
    _, crontab = box.sh("cat /etc/cron.d/backup")
    jobs = [line for line in crontab.splitlines() if line and line[0].isdigit()]
    assert len(jobs) == 1, crontab
    fields = jobs[0].split(None, 6)
    return fields[6]


def manifest(box: Box, root: str = "") -> str:
    """Each file under the backed-up paths (below ``root``): path, type, mode, owner, link, sha256.

    Left out: what the definition excludes (the cache, the live database and its WAL files)."""
    script = (
        f"cd {root or '/'} && find data srv/app"
        " \\( -path data/cache -o -path 'data/app.db' -o -path 'data/app.db-*' \\) -prune"
        " -o -printf '%p|%y|%m|%u:%g|%l|' -exec sh -c"
        " 'if [ -f \"$1\" ] && [ ! -L \"$1\" ]; then sha256sum < \"$1\"; else echo -; fi' _ {} \\; | sort"
    )
    return box.sh(script)[1]


@dataclass
class History:
    first_time: int
    first: str
    second: str
    rows: int


@pytest.fixture(scope="module")
def history(box: Box) -> History:
    box.sh("""
        set -e
        mkdir -p /data/docs /data/cache /srv/app/conf
        head -c 3000000 /dev/urandom > /data/big.bin
        echo 'first version of the report' > /data/docs/report.txt
        echo 'unchanged' > /data/docs/stable.txt
        echo 'to be deleted' > /data/docs/gone.txt
        echo 'cache, excluded' > /data/cache/junk
        echo 'marker-plaintext-3f9a' > /srv/app/conf/app.ini
        ln -s docs/report.txt /data/latest-report
        useradd -u 1234 -M -s /usr/sbin/nologin appuser
        chown 1234:1234 /srv/app/conf/app.ini && chmod 0640 /srv/app/conf/app.ini
        chmod 0700 /data/docs
        sqlite3 /data/app.db 'PRAGMA journal_mode=WAL; CREATE TABLE a(n); CREATE TABLE b(n);' >/dev/null
    """)
    first = manifest(box)
    # The first (full) backup: the cron job's own command, so what cron runs is what is tested.
    code, _ = box.sh(cron_command(box), check=False)
    assert code == 0, box.container.logs().decode()[-3000:]
    first_time = int(box.sh("date +%s")[1])
    time.sleep(2)
    box.sh("""
        set -e
        echo 'second version of the report' > /data/docs/report.txt
        rm /data/docs/gone.txt
        echo 'new file' > /data/docs/new.txt
        dd if=/dev/urandom of=/data/big.bin bs=30000 count=1 seek=10 conv=notrunc status=none
    """)
    # A writer keeps changing the database during the second backup: each transaction adds the
    # same row to both tables, so a consistent copy has equal counts.
    box.container.exec_run(["bash", "-c", WRITER], detach=True)
    box.sh("for i in $(seq 1 100); do [ -e /tmp/writer-started ] && exit 0; sleep 0.1; done; exit 1")
    try:
        box.sh("BACKUP_SQLITE=/data/app.db backup now")
    finally:
        box.sh("touch /tmp/writer-stop; for i in $(seq 1 300); do [ -e /tmp/writer-done ] && exit 0; "
               "sleep 0.1; done; exit 1")
    rows = int(box.sh("sqlite3 /data/app.db 'SELECT count(*) FROM a'")[1])
    return History(first_time, first, manifest(box), rows)


WRITER = """
i=0
while [ ! -e /tmp/writer-stop ]; do
    i=$((i + 1))
    sqlite3 -cmd '.timeout 10000' /data/app.db \\
        "BEGIN; INSERT INTO a VALUES($i); INSERT INTO b VALUES($i); COMMIT;"
    touch /tmp/writer-started
done
touch /tmp/writer-done
"""


def test_crontab_line_is_installed(box: Box) -> None:
    _, crontab = box.sh("stat -c '%a %U %h' /etc/cron.d/backup && cat /etc/cron.d/backup")
    assert crontab.splitlines()[0] == "644 root 1"
    assert "17 3 * * * root silence-unless-failed /usr/local/bin/backup now >/proc/1/fd/1 2>&1" in crontab
    box.sh("sv check cron")


def test_status_lists_the_full_and_the_incremental_set(box: Box, history: History) -> None:
    _, out = box.sh("backup status")
    sets = re.findall(r"^\s+(Full|Incremental)\s+\w{3} \w{3}", out, re.M)
    assert sets[:2] == ["Full", "Incremental"], out
    assert set(sets[1:]) == {"Incremental"}, out


def test_restore_latest_is_identical_with_owners_modes_and_symlinks(box: Box, history: History) -> None:
    box.sh("backup restore /restore/latest")
    restored = manifest(box, "/restore/latest")
    assert restored == history.second
    assert "data/latest-report|l|777|root:root|docs/report.txt|-" in restored
    assert "srv/app/conf/app.ini|f|640|appuser:appuser||" in restored
    assert "data/docs|d|700|root:root||-" in restored
    assert "data/docs/gone.txt" not in restored
    box.sh("test ! -e /restore/latest/data/cache && test ! -e /restore/latest/data/app.db"
           " && test ! -e /restore/latest/etc")


def test_restore_as_of_the_first_backup_gives_the_old_content(box: Box, history: History) -> None:
    box.sh(f"backup restore --time {history.first_time} /restore/first")
    assert manifest(box, "/restore/first") == history.first
    assert box.sh("cat /restore/first/data/docs/report.txt")[1] == "first version of the report\n"
    box.sh("test -f /restore/first/data/docs/gone.txt")


def test_fetch_one_file(box: Box, history: History) -> None:
    _, out = box.sh("backup fetch /data/docs/report.txt /tmp/report.txt && cat /tmp/report.txt")
    assert out.endswith("second version of the report\n")
    box.sh(f"backup fetch --time {history.first_time} data/docs/report.txt /tmp/report.old")
    assert box.sh("cat /tmp/report.old")[1] == "first version of the report\n"


def test_verify_finds_no_difference_after_a_backup(box: Box, history: History) -> None:
    _, out = box.sh("backup verify")
    assert re.search(r"Verify complete: \d+ file\(s\) compared, 0 difference\(s\) found", out), out


def test_sqlite_pre_script_gives_a_consistent_database_while_a_writer_runs(
        box: Box, history: History) -> None:
    box.sh("test -d /restore/latest || backup restore /restore/latest")
    db = "/restore/latest/data/app.db.backup"
    assert box.sh(f"sqlite3 {db} 'PRAGMA integrity_check'")[1] == "ok\n"
    counts = box.sh(f"sqlite3 {db} 'SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM b)'")[1]
    a, b = (int(n) for n in counts.strip().split("|"))
    assert a == b
    assert 0 < a <= history.rows


def test_the_bucket_holds_only_openpgp_data(box: Box, history: History, s3_server: Any) -> None:
    objects = _objects(s3_server, box.bucket, "box/")
    assert len(objects) >= 6  # full + incremental: manifests, signatures, volumes
    for key, body in objects.items():
        assert key.endswith(".gpg"), key
        # An OpenPGP message for a passphrase starts with a symmetric-key session key packet (tag 3).
        assert body[0] in (0x8C, 0x8D, 0xC3), (key, body[:4])
        for plain in (b"marker-plaintext-3f9a", b"report.txt", b"app.ini", b"second version"):
            assert plain not in body, (key, plain)


def test_the_incremental_uploads_the_change_not_the_files(
        box: Box, history: History, s3_server: Any) -> None:
    """The first incremental carries the 30 KB rewritten in the 3 MB file, not the file again."""
    volumes = volume_sizes(s3_server, box)
    fulls = {key: size for key, size in volumes.items() if key.startswith("full.")}
    assert len(fulls) == 1, volumes
    (full_key, full_bytes), = fulls.items()
    start = full_key.split(".")[1]
    first_inc = {key: size for key, size in volumes.items() if key.startswith(f"inc.{start}.to.")}
    assert len(first_inc) == 1, volumes
    inc_bytes = sum(first_inc.values())
    assert full_bytes >= 3_000_000  # random data does not compress
    assert 30_000 <= inc_bytes < full_bytes // 10, (inc_bytes, full_bytes)


def _objects(s3_server: Any, bucket: str, prefix: str) -> dict[str, bytes]:
    client = s3_server.client()
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            found[item["Key"]] = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return found


def test_no_secret_in_inspect_labels_history_or_logs(box: Box, history: History, engine: Any) -> None:
    box.container.reload()
    image = engine.images.get(box.container.image.id)
    places = {
        "docker inspect": json.dumps(box.container.attrs),
        "image inspect": json.dumps(image.attrs),
        "image history": json.dumps(image.history()),
        "docker logs": box.container.logs().decode(errors="replace"),
    }
    for where, text in places.items():
        for name, value in box.secrets.items():
            assert value not in text, f"{name} in {where}"


def test_no_secret_in_any_argv_during_a_backup(box: Box, history: History) -> None:
    """Sample every process's command line while a backup runs; duplicity must have been seen."""
    box.sh("echo 'argv check' > /data/docs/argv.txt")
    box.container.exec_run(
        ["bash", "-c", "backup now > /tmp/argv-backup.log 2>&1; echo $? > /tmp/argv-backup.rc"], detach=True)
    seen: set[str] = set()
    # Until the backup has ended (its exit code is written); the bound only stops a hung run.
    deadline = time.monotonic() + 1200
    while True:
        _, out = box.sh("for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f 2>/dev/null; echo; done")
        seen.update(line for line in out.splitlines() if line.strip())
        if box.sh("test -s /tmp/argv-backup.rc", check=False)[0] == 0:
            break
        assert time.monotonic() < deadline, "the backup did not end in 20 minutes"
    assert box.sh("cat /tmp/argv-backup.rc")[1].strip() == "0", box.sh("cat /tmp/argv-backup.log")[1]
    assert any("/usr/bin/duplicity" in line for line in seen), "the sampling never saw duplicity"
    for line in seen:
        for name, value in box.secrets.items():
            assert value not in line, f"{name} in argv: {line[:200]}"


def test_missing_target_or_credentials_is_one_line(box: Box) -> None:
    code, out = box.sh("env -u BACKUP_TARGET backup now", check=False)
    assert code == 1
    assert out.strip().splitlines() == [
        "backup: no target: set BACKUP_TARGET (e.g. s3://bucket/path) in the environment, "
        "/run/secrets/backup_target or /etc/boxwright/backup.env"]
    code, out = box.sh("backup status", env={"BACKUP_SECRETS_DIR": "/nonexistent"}, check=False)
    assert code == 1
    assert out.strip().startswith(
        "backup: no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")


@pytest.mark.parametrize(("profile", "line"), [
    ("nope", "backup: no duply profile /etc/duply/nope (BACKUP_PROFILE)"),
    ("../main", "backup: BACKUP_PROFILE: expected a profile name like 'main'; got '../main'"),
])
def test_an_unknown_or_unsafe_profile_is_one_line(box: Box, profile: str, line: str) -> None:
    code, out = box.sh("backup status", env={"BACKUP_PROFILE": profile}, check=False)
    assert code == 1
    assert out.strip().splitlines() == [line]


def test_wrong_credentials_fail_with_one_clear_line(box: Box) -> None:
    code, out = box.sh("backup now", env={"AWS_SECRET_ACCESS_KEY": "wrong-secret"}, check=False)
    assert code == 1
    assert out.strip().splitlines()[-1].startswith("backup: http://127.0.0.1:")
    assert "refused the credentials" in out.strip().splitlines()[-1]


def test_missing_bucket_fails_with_one_clear_line(box: Box) -> None:
    code, out = box.sh("backup now", env={"BACKUP_TARGET": "s3://no-such-bucket/x"}, check=False)
    assert code == 1
    assert out.strip().splitlines()[-1].startswith("backup: bucket 'no-such-bucket' does not exist at ")


def test_wrong_passphrase_at_restore_fails_with_one_clear_line(box: Box, history: History) -> None:
    code, out = box.sh("backup fetch /data/docs/stable.txt /tmp/never", env={"BACKUP_PASSPHRASE": "not it"},
                       check=False)
    assert code == 1
    assert out.strip().splitlines()[-1] == (
        "backup: fetch failed (duply exit 1): the backup cannot be decrypted with this passphrase or key")
    box.sh("test ! -e /tmp/never")


def test_a_failing_cron_run_is_a_line_in_docker_logs(box: Box) -> None:
    before = box.container.logs()
    code, _ = box.sh(cron_command(box), env={"AWS_SECRET_ACCESS_KEY": "wrong-secret"}, check=False)
    assert code == 1
    new = box.container.logs()[len(before):].decode(errors="replace")
    assert "refused the credentials" in new, new
    for name, value in box.secrets.items():
        assert value not in new, f"{name} in docker logs"


def test_a_failing_pre_script_means_no_backup(box: Box) -> None:
    code, out = box.sh("BACKUP_SQLITE=/data/no-such.db backup now", check=False)
    assert code == 1
    assert "backup: a pre.d script failed: no backup made" in out
    assert "Start running command BKP" not in out


@pytest.mark.parametrize("argv", [["backup"], ["backup", "frobnicate"], ["backup", "now", "extra"]])
def test_usage_errors(box: Box, argv: list[str]) -> None:
    code, out = box.sh(shlex.join(argv), check=False)
    assert code != 0
    assert "backup" in out
