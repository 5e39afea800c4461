"""The image under rootless Podman: an unprivileged user (nobody) with a subordinate id range.

Rootless podman needs the user's range in /etc/subuid and /etc/subgid (the image has files owned
by gid 42, shadow): this host ships none, so the fixture adds one for nobody with ``usermod`` and
removes it again, whatever happens (README.md, Running it under Podman). No network: Debian's
rootless podman would need slirp4netns for one, and none of these checks does.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from boxwright.engine import docker_client
from boxwright.image.podman import podman_config
from boxwright.proc import run
from support.containers import SESSION
from support.podman import RootlessPodman

USER = "nobody"
#: The subordinate range the fixture gives the user (65536 ids: every id the image uses).
RANGE = (200000, 265535)
NO_NETWORK = ("--network", "none")
HEALTH = ("/usr/local/bin/service-status", "--health")
ORPHANS = r"""
i=0
while [ $i -lt 200 ]; do (sleep 0.2 &); i=$((i + 1)); done
sleep 1.2
echo "zombies: $(cat /proc/[0-9]*/stat 2>/dev/null | grep -c ') Z ')"
"""


def subordinate_range(user: str) -> tuple[int, int] | None:
    """(first id, count) of the user's first range in /etc/subuid, or None."""
    for line in Path("/etc/subuid").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name == user:
            first, _, count = rest.partition(":")
            return int(first), int(count)
    return None


@pytest.fixture(scope="module")
def rootless(image_id: str) -> Iterator[RootlessPodman]:
    assert os.geteuid() == 0, "the rootless fixture gives nobody a subordinate id range: run as root"
    ids = f"{RANGE[0]}-{RANGE[1]}"
    added = subordinate_range(USER) is None
    if added:
        run(["usermod", "--add-subuids", ids, "--add-subgids", ids, USER], what="usermod")
    # Not under pytest's tmp_path: its parent is root's alone (0700).
    home = Path(tempfile.mkdtemp(prefix="boxwright-rootless-"))
    user = RootlessPodman(home / "containers.conf", f"localhost/boxwright-test-{SESSION}/baseimage:rootless",
                          home, 65534, 65534)
    try:
        podman_config(home)
        (home / "run").mkdir(mode=0o700)
        home.chmod(0o755)
        for path in (home, home / "run", home / "containers.conf"):
            os.chown(path, 65534, 65534)
        archive = home / "image.tar"
        with archive.open("wb") as out:
            for chunk in docker_client().images.get(image_id).save(named=False):
                out.write(chunk)
        archive.chmod(0o644)
        user("load", "--quiet", "--input", str(archive), timeout=600)
        archive.unlink()
        user("tag", image_id.removeprefix("sha256:"), user.image)
        yield user
    finally:
        user.remove_all()
        user("system", "reset", "--force", check=False)  # the user's store and its layers
        user.stop_user_namespace()
        shutil.rmtree(home, ignore_errors=True)
        if added:
            run(["usermod", "--del-subuids", ids, "--del-subgids", ids, USER], what="usermod")


def test_runs_in_a_user_namespace_with_the_subordinate_range(rootless):
    name = rootless.start("/sbin/my_init", "--quiet", "--", "cat", "/proc/self/uid_map",
                          options=NO_NETWORK)
    assert rootless.wait(name) == 0
    rows = [line.split() for line in rootless.logs(name).splitlines()]
    first, count = subordinate_range(USER) or (0, 0)
    assert [row for row in rows if len(row) == 3 and all(f.isdigit() for f in row)] == [
        ["0", "65534", "1"], ["1", str(first), str(count)]]


@pytest.mark.parametrize(("command", "expected"), [("exit 3", 3), ("kill -s TERM $$", 143)])
def test_exit_codes(rootless, command, expected):
    name = rootless.start("/sbin/my_init", "--", "sh", "-c", command, options=NO_NETWORK)
    assert rootless.wait(name) == expected, rootless.logs(name)


def test_pid1_reaps_orphans(rootless):
    name = rootless.start("/sbin/my_init", "--quiet", "--", "sh", "-c", ORPHANS, options=NO_NETWORK)
    assert rootless.wait(name) == 0
    lines = rootless.logs(name).splitlines()
    assert [line for line in lines if line.startswith("zombies:")] == ["zombies: 0"]


def test_services_up_and_stop_exits_0(rootless):
    name = rootless.start(options=NO_NETWORK)
    assert rootless.wait_until(name, *HEALTH).strip() == "healthy: syslog, cron"
    rootless("stop", "--time", "30", name)
    assert rootless.exit_code(name) == 0, rootless.logs(name)
