"""The PID-1, environment, services and shutdown contract, checked on the linux/arm64 image.

This host is amd64: every process of these containers runs under QEMU user emulation
(~10x slower than native).  The subset below is the contract, one check per promise; the
full container suites run natively against the host's image (README.md, architectures).
Timing: my_init's own shutdown budget is enforced as on amd64 (it is my_init's clock);
only the margin around it and start-up waits are wider, and each wait still fails.
"""

from __future__ import annotations

import time

import pytest

from support.runit import RunitService, logs, wait_for_log

STUBBORN = """#!/bin/sh
trap '' TERM
sleep 1000 &
touch /run/stubborn.up
while :; do sleep 1; done
"""
#: Emulated start-up: python3 compiles and runs my_init ~10x slower than native.
EMULATED_START = 120


def wait_until(container, argv, timeout=EMULATED_START):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if container.exec_run(argv).exit_code == 0:
            return
        time.sleep(0.5)
    raise AssertionError(f"{argv} never succeeded\n{logs(container)}")


def stop(container, grace):
    """``docker stop``; the exit code (the seconds are ./kit bench figures: arch group)."""
    container.stop(timeout=grace)
    container.reload()
    return container.attrs["State"]["ExitCode"]


def test_the_image_is_arm64_and_runs_aarch64_code(engine, arm64_image, arm64_container):
    image = engine.images.get(arm64_image)
    assert (image.attrs["Architecture"], image.attrs["Os"]) == ("arm64", "linux")
    container = arm64_container(command=["sh", "-c", "uname -m; dpkg --print-architecture"])
    assert container.wait(timeout=EMULATED_START)["StatusCode"] == 0
    assert container.logs().decode().split() == ["aarch64", "arm64"]


def test_my_init_is_pid_1_and_the_services_run(arm64_container, host_of):
    container = arm64_container()
    wait_for_log(container, "started runsvdir -P /etc/service", timeout=EMULATED_START)
    host = host_of(container)
    assert b"my_init" in container.exec_run(["cat", "/proc/1/cmdline"]).output
    for path in ("/etc/early_service/syslog", "/etc/service/cron"):
        service = RunitService(host, path)
        deadline = time.monotonic() + EMULATED_START
        while time.monotonic() < deadline:
            try:
                if service.is_running:
                    break
            except (RuntimeError, AssertionError):  # runsv has not made supervise/ yet
                pass
            time.sleep(0.5)
        assert service.is_running, logs(container)


def test_environment_export(arm64_container, host_of):
    value = "it's $HOME \\o/ ünïcode\nsecond line"
    container = arm64_container(environment={"GREETING": value})
    wait_until(container, ["test", "-e", "/etc/container_environment.json"])
    host = host_of(container)
    assert host.file("/etc/container_environment/GREETING").content_string == value
    login = container.exec_run(["bash", "-lc", 'printf "%s" "$GREETING"'], environment={"GREETING": ""})
    assert login.output.decode() == value


@pytest.mark.parametrize(("command", "expected"), [("exit 3", 3), ("kill -s TERM $$", 143)])
def test_main_command_exit_codes(arm64_container, command, expected):
    container = arm64_container(command=["/sbin/my_init", "--", "sh", "-c", command])
    assert container.wait(timeout=EMULATED_START)["StatusCode"] == expected


def test_docker_stop_exits_0_within_dockers_grace(arm64_container):
    """Exit 0 proves my_init stopped everything itself: past the grace Docker SIGKILLs (137)."""
    container = arm64_container()
    wait_for_log(container, "started runsvdir -P /etc/service", timeout=EMULATED_START)
    time.sleep(1.5)  # runsv's restart throttle (see the amd64 test)
    assert stop(container, grace=30) == 0, logs(container)


def test_frozen_service_is_reported_with_its_syscall_and_killed_within_the_budget(arm64_container):
    container = arm64_container(
        {"/etc/service/stubborn/run": (STUBBORN, 0o755)}, environment={"MY_INIT_SHUTDOWN_BUDGET": "3"}
    )
    wait_until(container, ["test", "-e", "/run/stubborn.up"])
    code = stop(container, grace=30)  # 137 had my_init not cut the service at its budget
    output = logs(container)
    assert code == 0, output
    assert "service stubborn did not stop in time; frozen-process report" in output
    [line] = [x for x in output.splitlines() if "frozen service stubborn" in x and "sleep 1000" in x]
    # Under emulation the kernel sees the x86_64 emulator: my_init names its syscall by the kernel's table.
    assert " syscall " in line and " (" in line.split(" syscall ", 1)[1].split(" cmdline ")[0], line
