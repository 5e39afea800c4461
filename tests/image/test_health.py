"""The image's HEALTHCHECK and service-status against real containers (README.md, health)."""

from __future__ import annotations

import time

from support.health import exec_out, health, wait_health
from support.runit import logs

#: Docker's health options at run time, in nanoseconds; the command stays the image's.
FAST = {"interval": 1_000_000_000, "start_period": 0, "retries": 2}
FIND_SLEEP_300 = (
    "import glob\nfor p in glob.glob('/proc/[0-9]*/cmdline'):\n"
    "    if open(p, 'rb').read() == b'sleep\\0' + b'300\\0': print(p)"
)
SECOND_SERVICE = "#!/bin/sh\nexec 2>&1\n[ ! -e /tmp/crash ] || exit 1\nexec sleep 1000\n"


def service(name: str, run: str, check: str | None = None) -> dict[str, tuple[str, int]]:
    files = {f"/etc/service/{name}/run": (run, 0o755)}
    if check is not None:
        files[f"/etc/service/{name}/check"] = (check, 0o755)
    return files


def test_image_declares_the_healthcheck(engine, baseimage):
    config = engine.images.get(baseimage).attrs["Config"]["Healthcheck"]
    assert config["Test"] == ["CMD", "/usr/local/bin/service-status", "--health", "--timeout", "2"]
    assert config["Interval"] == 5_000_000_000 and config["Retries"] == 2


def shipped_down(definition) -> list[str]:
    """Services the image ships with a `down` file (sshd in the default image, phusion's way)."""
    return ["sshd"] if definition.service_enabled("sshd") else []


def test_healthy_when_every_service_is_up(shape):
    container = shape(healthcheck=FAST)
    entries = wait_health(container, "healthy")
    assert entries[-1]["ExitCode"] == 0
    assert entries[-1]["Output"].strip() == "healthy: syslog, cron"


def test_status_prints_one_line_per_service(shape, image_definition):
    container = shape(healthcheck=FAST)
    wait_health(container, "healthy")
    code, out = exec_out(container, "service-status")
    assert code == 0
    rows = {line.split()[0]: line.split() for line in out.splitlines()}
    assert sorted(rows) == sorted(["cron", "syslog", *shipped_down(image_definition)])
    for name in shipped_down(image_definition):
        assert rows[name][1] == "stopped"  # sshd ships down: not required
    _, sv = exec_out(container, "sv", "status", "/etc/service/cron")
    cron = rows["cron"]
    assert cron[1] == "up" and cron[2:4] == ["pid", sv.split("(pid ")[1].split(")")[0]]
    assert cron[4] == "uptime" and cron[5].endswith("s") and cron[6:] == ["restarts", "0"]
    assert rows["syslog"][1] == "ready"  # it has a check script, and it passes


def test_crash_loop_is_unhealthy_within_two_checks_naming_the_service(shape):
    container = shape(healthcheck=FAST, files=service("flappy", SECOND_SERVICE))
    wait_health(container, "healthy")
    exec_out(container, "sh", "-c", "touch /tmp/crash; sv kill /etc/service/flappy")
    crashed = time.time()
    entries = wait_health(container, "unhealthy", timeout=30)
    after = [e for e in entries if _start(e) > crashed]
    assert [e["ExitCode"] for e in after[:2]] == [1, 1], entries  # no healthy check in between
    assert all("flappy" in e["Output"] and "cron" not in e["Output"] for e in after), entries
    _, out = exec_out(container, "service-status")
    flappy = next(line.split() for line in out.splitlines() if line.startswith("flappy"))
    assert flappy[1] in ("down", "starting", "up") and int(flappy[-1]) >= 1


def test_not_ready_until_its_check_passes(shape):
    files = service("app", "#!/bin/sh\nexec sleep 1000\n", "#!/bin/sh\ntest -e /tmp/ready\n")
    container = shape(healthcheck=FAST, files=files)
    entries = wait_health(container, "unhealthy")
    assert "app check failed (not ready)" in entries[-1]["Output"]
    exec_out(container, "touch", "/tmp/ready")
    assert wait_health(container, "healthy")[-1]["Output"].strip() == "healthy: syslog, app, cron"


def test_a_hanging_check_is_cut_at_the_commands_own_timeout(shape):
    files = service("app", "#!/bin/sh\nexec sleep 1000\n", "#!/bin/sh\nexec sleep 300\n")
    # Docker's own timeout far above the command's (--timeout 2, from the image's 3 s): the
    # command must end by itself, whatever the machine's load adds to docker exec.
    container = shape(healthcheck={**FAST, "timeout": 20_000_000_000}, files=files)
    entries = wait_health(container, "unhealthy")
    last = entries[-1]
    assert "app check timed out (not ready)" in last["Output"]
    assert _end(last) - _start(last) < 20.0
    _, ps = exec_out(container, "python3", "-c", FIND_SLEEP_300)
    assert ps.split() == []  # the check's process group was killed


def test_a_service_taken_down_on_purpose_is_not_required(shape, image_definition):
    container = shape(healthcheck=FAST)
    wait_health(container, "healthy")
    taken_down = time.time()
    exec_out(container, "sv", "down", "cron")
    # The first check that started after `sv down` (a FAST check runs every second).
    deadline = time.monotonic() + 60
    while not [e for e in health(container)[1] if _start(e) > taken_down and e.get("End")]:
        assert time.monotonic() < deadline, "no health check ran after sv down"
        time.sleep(0.2)
    status, entries = health(container)
    assert status == "healthy" and entries[-1]["Output"].strip() == "healthy: syslog"
    _, out = exec_out(container, "service-status")
    expected = [["syslog", "ready"], ["cron", "stopped"]]
    expected += [[name, "stopped"] for name in shipped_down(image_definition)]
    assert [line.split()[:2] for line in out.splitlines()] == expected


def test_unhealthy_without_my_init(shape):
    container = shape(command=["sleep", "1000"], healthcheck=FAST)
    entries = wait_health(container, "unhealthy")
    assert entries[-1]["Output"].strip() == "unhealthy: my_init is not running (no /run/my_init/pid)"


def test_critical_service_exit_still_stops_the_container(shape):
    files = {**service("app", "#!/bin/sh\nsleep 2\nexit 3\n"), "/etc/service/app/critical": ("", 0o644)}
    container = shape(healthcheck=FAST, files=files)
    assert container.wait(timeout=60)["StatusCode"] == 3, logs(container)


def test_bad_arguments_are_one_line(shape):
    container = shape(healthcheck=FAST)
    code, out = exec_out(container, "service-status", "--helth")
    assert code == 1 and out.splitlines()[0] == "service-status: unknown argument '--helth'"


def _start(entry: dict[str, str]) -> float:
    return _parse(entry["Start"])


def _end(entry: dict[str, str]) -> float:
    return _parse(entry["End"])


def _parse(stamp: str) -> float:
    from datetime import datetime

    head, _, frac = stamp.rstrip("Z").partition(".")
    seconds = datetime.fromisoformat(head + "+00:00").timestamp()
    return seconds + float("0." + (frac or "0")[:6])
