"""Retention and a server that goes away: the backup service against its own S3 server.

tests/fixtures/service-images/baseimage-backup-short/ makes every backup a full one and keeps a
set one second, with 1 MB volumes. The module's server (SeaweedFS, boxwright/bench/servers.py)
is its own, because the tests stop it in the middle of an upload and start it again on the
same data. In order: a first backup; a second one during which the server stops (one clear
line, and the first still restores); the server back, a third one that succeeds and whose
purge leaves only its own chain (a restore as of the purged first set gets the third: duplicity
restores the oldest set it has for a time before it).
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from boxwright.bench.backup import BackupContainer as Box
from boxwright.bench.backup import backup_container, volume_sizes
from boxwright.bench.servers import S3Server, restart_s3_server, start_s3_server

pytestmark = pytest.mark.image

VARIANT = "baseimage-backup-short"
SESSION = str(os.getpid())  # the label value tests/conftest.py sweeps


@dataclass
class Server:
    """The module's S3 server, which the tests stop and start again."""

    server: S3Server
    running: contextlib.ExitStack

    def stop(self) -> None:
        self.running.close()

    def start(self) -> None:
        self.running = contextlib.ExitStack()
        self.running.enter_context(restart_s3_server(self.server))


@pytest.fixture(scope="module")
def server(tmp_path_factory: Any) -> Iterator[Server]:
    running = contextlib.ExitStack()
    s3 = running.enter_context(start_s3_server(tmp_path_factory.mktemp("s3")))
    held = Server(s3, running)
    try:
        yield held
    finally:
        held.stop()


@pytest.fixture(scope="module")
def box(engine: Any, variant_image: Any, server: Server, tmp_path_factory: Any) -> Iterator[Box]:
    with backup_container(engine, variant_image(VARIANT), server.server, tmp_path_factory.mktemp("secrets"),
                          "short", labels={"io.boxwright.test": SESSION}) as started:
        yield started


def checksums(box: Box, root: str = "/") -> str:
    return box.sh(f"cd {root} && find data -type f -exec sha256sum {{}} + | sort -k2")[1]


@dataclass
class Interrupted:
    first_time: int
    first: str
    code: int
    output: str


@pytest.fixture(scope="module")
def interrupted(box: Box, server: Server) -> Interrupted:
    """A first backup, then a second one of 40 MB more during which the server is stopped."""
    box.sh("mkdir -p /data && echo 'first' > /data/first.txt")
    first = checksums(box)
    box.sh("backup now")
    first_time = int(box.sh("date +%s")[1])
    time.sleep(2)  # the next backup is a new full set: the first is older than full_every
    box.sh("echo 'second' > /data/second.txt && head -c 40000000 /dev/urandom > /data/big.bin")
    sets_before = set(volume_sizes(server.server, box))
    box.container.exec_run(["bash", "-c", "backup now > /tmp/cut.log 2>&1; echo $? > /tmp/cut.rc"],
                           detach=True)
    # When the new set's first volume is on the server, freeze duplicity, stop the server, thaw:
    # the server is gone with 39 volumes still to upload.
    deadline = time.monotonic() + 600
    while not set(volume_sizes(server.server, box)) - sets_before:
        assert box.sh("test -e /tmp/cut.rc", check=False)[0] != 0, box.sh("cat /tmp/cut.log")[1]
        assert time.monotonic() < deadline, "no volume of the second backup in 10 minutes"
        time.sleep(0.1)
    box.sh("pkill -STOP -f /usr/bin/duplicity")
    assert box.sh("test -e /tmp/cut.rc", check=False)[0] != 0, "the backup ended before the server stopped"
    server.stop()
    box.sh("pkill -CONT -f /usr/bin/duplicity")
    while box.sh("test -s /tmp/cut.rc", check=False)[0] != 0:
        assert time.monotonic() < deadline, "the cut backup did not end in 10 minutes"
        time.sleep(0.5)
    code = int(box.sh("cat /tmp/cut.rc")[1])
    output = box.sh("cat /tmp/cut.log")[1]
    return Interrupted(first_time, first, code, output)


@pytest.fixture(scope="module")
def resumed(server: Server, interrupted: Interrupted) -> Interrupted:
    """The server back on its data, after the cut."""
    server.start()
    return interrupted


def test_a_server_gone_mid_backup_is_one_clear_line(box: Box, interrupted: Interrupted) -> None:
    assert interrupted.code == 1, interrupted.output
    last = interrupted.output.strip().splitlines()[-1]
    assert re.fullmatch(r"backup: now failed \(duply exit \d+\): cannot reach the S3 endpoint "
                        r"http://127\.0\.0\.1:\d+", last), interrupted.output[-3000:]
    for value in box.secrets.values():
        assert value not in interrupted.output


def test_the_set_before_the_cut_still_restores(box: Box, resumed: Interrupted) -> None:
    box.sh(f"backup restore --time {resumed.first_time} /restore/first")
    assert checksums(box, "/restore/first") == resumed.first


@pytest.fixture(scope="module")
def third(box: Box, resumed: Interrupted) -> str:
    """A third backup, with the server back: it must succeed, and its purge removes the first set.
    Returns the checksums of /data it saved."""
    box.sh("echo 'third' > /data/third.txt")
    now = checksums(box)
    box.sh("backup now")
    return now


def test_the_next_backup_succeeds_and_the_purge_keeps_only_its_chain(
        box: Box, server: Server, third: str) -> None:
    _, status = box.sh("backup status")
    assert "Found 0 secondary backup chain(s)" in status, status
    assert re.findall(r"^\s+(Full|Incremental)\s", status, re.M) == ["Full"], status
    sets = volume_sizes(server.server, box)
    assert len(sets) == 1 and next(iter(sets)).startswith("full."), sets
    assert sum(sets.values()) >= 40_000_000
    box.sh("backup restore /restore/now")
    assert checksums(box, "/restore/now") == third


def test_a_purged_set_is_gone_a_restore_as_of_it_gives_the_oldest_kept(
        box: Box, resumed: Interrupted, third: str) -> None:
    """duplicity's rule: a time before the oldest set restores the oldest set (the third here)."""
    box.sh(f"backup restore --time {resumed.first_time} /restore/purged")
    assert checksums(box, "/restore/purged") == third
