"""cron: supervised, works on overlayfs, jobs see the container environment (and only those
who could read it before)."""

from __future__ import annotations

import time

import pytest

from support.runit import RunitService, logs, wait_for_log
from support.tar import tar_of

PROBE = "it's a \"probe\" with $dollar and \\ backslash"
USERS = """#!/bin/sh
set -eu
useradd --create-home outsider
useradd --create-home --groups docker_env insider
"""
JOBS = """* * * * * root env > /tmp/env.root
* * * * * outsider env > /tmp/env.outsider
* * * * * insider env > /tmp/env.insider
"""


@pytest.fixture(scope="module")
def container(module_containers, baseimage):
    """Started with crontabs in place: the slow check (cron's next minute) waits on this one."""
    container = module_containers.create(baseimage, environment={"CRON_PROBE": PROBE})
    container.put_archive("/", tar_of({
        "/etc/my_init.d/10_users": (USERS, 0o755),
        "/etc/cron.d/probe": JOBS,
        "/etc/cron.d/linked": "* * * * * root touch /tmp/linked-ran\n",
        "/root/linked-twin": "=/etc/cron.d/linked",  # a second hard link: cron would skip it
    }))
    container.start()
    wait_for_log(container, "[cron] starting cron")
    return container


@pytest.fixture(scope="module")
def host(container, host_of_module):
    return host_of_module(container)


@pytest.fixture(scope="module")
def host_of_module():
    import testinfra

    return lambda container: testinfra.get_host(f"docker://{container.id}")


def wait_for_file(host, path, timeout=75):
    """cron runs jobs at the start of a minute: wait for the next one (and a bit)."""
    deadline = time.monotonic() + timeout
    while not host.file(path).exists:
        assert time.monotonic() < deadline, f"no {path} after {timeout} s"
        time.sleep(1)
    time.sleep(0.5)  # the job's write may still be going on
    return host.file(path)


def job_env(host, user):
    text = wait_for_file(host, f"/tmp/env.{user}").content_string
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def test_cron_runs_supervised(host):
    cron = RunitService(host, "/etc/service/cron")
    assert cron.is_running and cron.command == "cron"
    cron.wait_running(other_than=cron.kill())


def test_cron_output_is_prefixed(container):
    assert "[cron] starting cron" in logs(container)


def test_crontab_links_were_fixed_at_start(host):
    assert host.file("/etc/cron.d/linked").is_file
    assert int(host.check_output("stat -c %h /etc/cron.d/linked")) == 1


def test_logrotate_runs_daily_from_cron(host):
    assert host.file("/etc/cron.daily/logrotate").mode & 0o111
    assert host.file("/etc/crontab").contains("run-parts --report /etc/cron.daily")


def test_root_job_sees_the_container_environment(host):
    env = job_env(host, "root")
    assert env["CRON_PROBE"] == PROBE
    assert env["HOME"] == "/root" and env["LOGNAME"] == "root"


def test_docker_env_member_job_sees_it(host):
    assert job_env(host, "insider")["CRON_PROBE"] == PROBE


def test_other_users_jobs_do_not(host):
    env = job_env(host, "outsider")
    assert "CRON_PROBE" not in env
    assert env["HOME"] == "/home/outsider"
    assert host.run("setuser outsider cat /etc/container_environment.sh").rc != 0  # as before


def test_hard_linked_crontab_ran(host):
    assert wait_for_file(host, "/tmp/linked-ran").exists
