"""The image under Debian's rootful Podman: the core checks of the Docker suite, and `podman kube play`.

The image comes from the Docker engine (``docker save | podman load``, boxwright/image/podman.py);
every command runs with runc and lowered limits (README.md, Running it). Stops are proved by exit
codes: 0 means my_init ended the services itself, inside its budget and the runtime's grace (a
SIGKILL at the end of the grace is 137).
"""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.containers import SESSION, TEST_LABEL
from support.podman import Podman

ORPHANS = r"""
i=0
while [ $i -lt 1000 ]; do (sleep 0.2 &); i=$((i + 1)); done
sleep 1.2
echo "zombies: $(cat /proc/[0-9]*/stat 2>/dev/null | grep -c ') Z ')"
"""
STUBBORN = """#!/bin/sh
trap '' TERM
sleep 1000 &
touch /run/stubborn.up
while :; do sleep 1; done
"""
GREETER = """#!/bin/sh
printf '%s' "$GREETING" > /run/greeting.seen
exec sleep 1000
"""
HEALTH = ("/usr/local/bin/service-status", "--health")
#: terminationGracePeriodSeconds of the pod (not podman's default 10 s, so the tests can tell).
GRACE = 30


@pytest.mark.parametrize(
    ("command", "expected"),
    [("exit 0", 0), ("exit 3", 3), ("kill -s TERM $$", 143), ("exec no-such-command", 127)],
)
def test_exit_codes(pod, command, expected):
    name = pod.start("/sbin/my_init", "--", "sh", "-c", command)
    assert pod.wait(name) == expected, pod.logs(name)


def test_pid1_reaps_orphans(pod):
    name = pod.start("/sbin/my_init", "--quiet", "--", "sh", "-c", ORPHANS)
    assert pod.wait(name) == 0
    assert [line for line in pod.logs(name).splitlines() if line.startswith("zombies:")] == ["zombies: 0"]


def test_services_are_up_and_the_healthcheck_passes(pod):
    name = pod.start()
    assert pod.wait_until(name, *HEALTH).strip() == "healthy: syslog, cron"
    assert "my_init" in pod.exec(name, "cat", "/proc/1/cmdline")[1]
    # No systemd here, so podman runs no HEALTHCHECK timer: `healthcheck run` runs the image's now.
    assert pod("healthcheck", "run", name).code == 0


def test_environment_export_reaches_services_and_exec_shells(pod):
    name = pod.start(options=("--env", "GREETING=hello podman"),
                     files={"/etc/service/greeter/run": (GREETER, 0o755)})
    pod.wait_until(name, "test", "-s", "/run/greeting.seen")
    assert pod.exec(name, "cat", "/run/greeting.seen") == (0, "hello podman")
    assert pod.exec(name, "cat", "/etc/container_environment/GREETING") == (0, "hello podman")
    shell = '. /etc/container_environment.sh && printf %s "$GREETING"'
    assert pod.exec(name, "sh", "-c", shell) == (0, "hello podman")
    code, out = pod.exec(name, "cat", "/etc/container_environment.json")
    assert code == 0 and json.loads(out)["GREETING"] == "hello podman"


def test_stop_of_the_stock_image_exits_0(pod):
    name = pod.start()
    pod.wait_until(name, *HEALTH)
    pod("stop", "--time", str(GRACE), name)
    assert pod.exit_code(name) == 0, pod.logs(name)


def test_a_term_ignoring_service_is_cut_at_the_budget(pod):
    name = pod.start(options=("--env", "MY_INIT_SHUTDOWN_BUDGET=3"),
                     files={"/etc/service/stubborn/run": (STUBBORN, 0o755)})
    pod.wait_until(name, "test", "-e", "/run/stubborn.up")
    pod("stop", "--time", str(GRACE), name)
    logs = pod.logs(name)
    assert pod.exit_code(name) == 0, logs  # my_init's 3 s budget, well inside podman's grace
    assert "service stubborn did not stop in time; frozen-process report" in logs


def test_syslog_reaches_podman_logs(pod):
    name = pod.start()
    pod.wait_until(name, "sv", "check", "/etc/early_service/syslog")
    assert pod.exec(name, "logger", "-t", "podman-test", "hello from podman")[0] == 0
    deadline = time.monotonic() + 30  # syslog-ng writes asynchronously: a give-up guard
    while "hello from podman" not in pod.logs(name):
        assert time.monotonic() < deadline, pod.logs(name)
        time.sleep(0.2)


# --- podman kube play -------------------------------------------------------------------------

NON_ROOT = {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 1000}


@dataclass(frozen=True)
class Shape:
    """A pod's securityContext, and what the image reports in it."""

    security: dict[str, object]
    health: str  # service-status --health once it is up
    uid: int  # PID 1's


#: The shapes of README.md's "Running it" under kube play; each also drops privilege escalation.
SHAPES = {
    "root": Shape({"runAsUser": 0}, "healthy: syslog, cron", 0),
    # syslog, cron and sshd need root: skipped, one line each (Running it).
    "non-root": Shape(NON_ROOT, "healthy: no services", 1000),
    "read-only": Shape({"readOnlyRootFilesystem": True}, "healthy: syslog, cron", 0),
    "non-root, read-only": Shape({**NON_ROOT, "readOnlyRootFilesystem": True}, "healthy: no services", 1000),
}


def pod_yaml(name: str, image: str, security: dict[str, object]) -> str:
    """A Kubernetes Pod (JSON is YAML) running the image with its default command; a read-only
    root gets /run and /tmp as memory-backed emptyDir volumes (Kubernetes mounts no tmpfs itself)."""
    security = {**security, "allowPrivilegeEscalation": False}
    container: dict[str, object] = {"name": "init", "image": image, "securityContext": security}
    volumes = []
    if security.get("readOnlyRootFilesystem"):
        container["volumeMounts"] = [{"name": n, "mountPath": f"/{n}"} for n in ("run", "tmp")]
        volumes = [{"name": n, "emptyDir": {"medium": "Memory"}} for n in ("run", "tmp")]
    document = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {TEST_LABEL: SESSION}},
        "spec": {
            "terminationGracePeriodSeconds": GRACE,
            "restartPolicy": "Never",
            "containers": [container],
            **({"volumes": volumes} if volumes else {}),
        },
    }
    return json.dumps(document, indent=2)


@pytest.fixture
def kube(pod: Podman, tmp_path: Path) -> Iterator[Callable[[str], tuple[Path, str]]]:
    """``kube(shape)``: `podman kube play` of the pod; (its YAML, the container's name)."""
    played: list[Path] = []

    def play(shape: str) -> tuple[Path, str]:
        name = f"boxwright-test-{SESSION}-{shape.replace(', ', '-')}"
        path = tmp_path / f"{name}.yaml"
        path.write_text(pod_yaml(name, pod.image, SHAPES[shape].security))
        played.append(path)
        pod("kube", "play", str(path))
        return path, f"{name}-init"

    try:
        yield play
    finally:
        for path in played:
            pod("kube", "down", str(path), check=False)


@pytest.mark.parametrize("shape", list(SHAPES))
def test_kube_play_starts_the_image(pod, kube, shape):
    _, container = kube(shape)
    expected = SHAPES[shape]
    assert pod.wait_until(container, *HEALTH).strip() == expected.health
    assert "my_init" in pod.exec(container, "cat", "/proc/1/cmdline")[1]
    _, status = pod.exec(container, "cat", "/proc/1/status")
    assert next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:")) == [
        str(expected.uid)] * 4
    config = pod.inspect(container)
    assert config["HostConfig"]["SecurityOpt"] == ["no-new-privileges"]
    assert config["HostConfig"]["ReadonlyRootfs"] is ("read-only" in shape)
    if expected.uid:
        assert "my_init: WARN: service cron skipped: it needs root" in pod.logs(container)


@pytest.mark.xfail(strict=True, reason="podman 4.3 ignores terminationGracePeriodSeconds (stop timeout "
                   "stays 10 s); kube play maps it since podman 4.7, containers/podman#19914")
def test_kube_play_takes_the_grace_period(pod, kube):
    _, container = kube("root")
    assert pod.inspect(container)["Config"]["StopTimeout"] == GRACE


@pytest.mark.xfail(strict=True, reason="podman kube down SIGKILLs the pod's containers instead of "
                   "stopping them (exit 137), containers/podman#22397 (fixed upstream by #22398)")
def test_kube_down_stops_it_within_the_grace(pod, kube):
    path, container = kube("root")
    pod.wait_until(container, *HEALTH)
    since = _now()
    pod("kube", "down", str(path))
    assert _exit_codes(pod, container, since) == [0]


@pytest.mark.parametrize("shape", list(SHAPES))
def test_pod_stop_within_the_grace_then_kube_down_removes_it(pod, kube, shape):
    path, container = kube(shape)
    pod.wait_until(container, *HEALTH)
    pod("pod", "stop", "--time", str(GRACE), container.removesuffix("-init"))
    assert pod.exit_code(container) == 0, pod.logs(container)
    pod("kube", "down", str(path))
    assert pod("ps", "-aq", "--filter", f"name={container}").output.split() == []
    assert pod("pod", "ps", "-q", "--filter", f"name={container.removesuffix('-init')}").output.split() == []


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _exit_codes(pod: Podman, container: str, since: str) -> list[int]:
    """Exit codes of the container's `died` events since ``since`` (it is gone after kube down)."""
    until = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=1)).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")
    out = pod("events", "--since", since, "--until", until, "--filter", f"container={container}",
              "--filter", "event=died", "--format", "json").output
    return [json.loads(line)["ContainerExitCode"] for line in out.splitlines() if line.strip()]
