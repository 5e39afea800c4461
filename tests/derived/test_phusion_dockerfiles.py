"""Dockerfiles written for phusion/baseimage build and run on boxwright's default image (issue 12).

tests/fixtures/derived/app/Dockerfile does what phusion's README and real Dockerfiles do; each
test checks one thing such a Dockerfile relies on.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import paramiko
import pytest

from support.containers import run_in
from support.runit import logs, wait_for_log
from support.tar import read_file


@pytest.fixture(scope="module")
def app_image(derived_build):
    return derived_build("app")


@pytest.fixture
def app(containers, app_image):
    container = containers.run(app_image, detach=True)
    wait_for_log(container, "started runsvdir -P /etc/service")
    return container


def wait_until(container: Any, command: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        code, output = run_in(container, command)
        if code == 0:
            return output
        if time.monotonic() > deadline:
            raise AssertionError(f"{command!r} never succeeded: {output}\n{logs(container)}")
        time.sleep(0.2)


def test_build_time_environment_and_unset_variables(app):
    assert read_file(app, "/etc/tz-at-build") == "tz=\n"  # RUN with $TZ unset built
    hello = wait_until(app, "cat /var/log/startup-hello")
    assert hello == "hello from my_init.d: BUILD_GREETING=set at build time\n"


def test_users_get_the_default_shell(engine, derived_base):
    assert engine.images.get(derived_base).attrs["Config"].get("Shell") in (None, ["/bin/sh", "-c"])


def test_service_calling_sbin_setuser_serves_http_as_the_user(app):
    wait_until(app, "curl -fsS -o /dev/null http://localhost:8080/")
    servers = wait_until(app, "ps -eo user=,args= | grep '[h]ttp.server'").splitlines()
    assert [line.split()[0] for line in servers] == ["app"], servers


def test_install_clean_installed_the_package_and_no_lists(app):
    assert run_in(app, "hello")[1] == "Hello, world!\n"
    assert run_in(app, "ls /var/lib/apt/lists | grep -v -e '^lock$' -e '^partial$' | wc -l")[1] == "0\n"


def test_sshd_enabled_the_phusion_way_takes_a_key_login(app, ssh_key):
    address = app.attrs["NetworkSettings"]["IPAddress"] or app.reload() or \
        app.attrs["NetworkSettings"]["IPAddress"]
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection((address, 22), timeout=2).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"sshd never listened:\n{logs(app)}") from None
            time.sleep(0.2)
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    try:
        client.connect(address, username="root", pkey=ssh_key, allow_agent=False, look_for_keys=False,
                       timeout=20)
        _, stdout, _ = client.exec_command("id -un; echo $BUILD_GREETING")
        assert stdout.read().decode().split("\n")[:1] == ["root"]
    finally:
        client.close()
    keys = run_in(app, "ls /etc/ssh/ssh_host_*_key")[1].split()
    assert keys, "no host keys"


def test_cron_job_in_cron_d_runs_with_the_container_environment(app):
    ran = wait_until(app, "cat /var/log/cron-ran", timeout=75)
    assert "cron ran with BUILD_GREETING=set at build time" in ran


def test_https_with_curl_and_python_against_a_local_tls_server(app):
    app.exec_run(["openssl", "s_server", "-quiet", "-accept", "4443", "-www",
                  "-cert", "/etc/tls/server.crt", "-key", "/etc/tls/server.key"], detach=True)
    wait_until(app, "curl -fsS -o /dev/null https://localhost:4443/")
    code, output = run_in(app, "python3 -c \"import urllib.request; "
                               "urllib.request.urlopen('https://localhost:4443/').read()\"")
    assert code == 0, output


def test_the_userland_phusion_users_rely_on(app):
    for command in ("curl --version", "less --version", "vi --version", "killall --version",
                    "pstree --version", "ps -p 1 -o comm=", "openssl version",
                    "update-ca-certificates --help",
                    "python3 -c 'import http.server, json, ssl, sqlite3, venv'"):
        code, output = run_in(app, command)
        assert code == 0, f"{command}: {output}"
    assert run_in(app, "echo $LANG")[1] == "C.UTF-8\n"
    assert run_in(app, "python3 -c 'import sys; print(sys.stdout.encoding)'")[1] == "utf-8\n"


def test_phusion_paths(app):
    for path in ("/sbin/setuser", "/sbin/install_clean", "/usr/local/bin/setuser",
                 "/usr/local/bin/install_clean", "/usr/sbin/enable_insecure_key",
                 "/etc/my_init.d/00_regen_ssh_host_keys.sh"):
        assert run_in(app, f"test -x {path}")[0] == 0, path
    assert run_in(app, "stat -c %a /etc/container_environment")[1] == "700\n"


def test_term_trap_runs_once_per_docker_stop_20_times(containers, app_image):
    container = containers.run(app_image, detach=True)
    for stop in range(1, 21):
        wait_for_log(container, "counter up", count=stop)
        container.stop(timeout=20)
        assert container.wait(timeout=30)["StatusCode"] == 0
        stops = read_file(container, "/var/log/counter.stops").splitlines()
        assert stops == ["stopped"] * stop, f"after docker stop #{stop}: {stops}"
        if stop < 20:
            container.start()


def test_a_replaced_debian_style_syslog_ng_conf_works(containers, derived_build):
    container = containers.run(derived_build("syslog-debian"), detach=True)
    output = wait_for_log(container, "services up: syslog")
    assert "ERROR" not in output
    run_in(container, "logger -p user.notice -t replaced 'through Debian-style config'")
    wait_for_log(container, "through Debian-style config")  # boxwright's conf.d snippet: docker logs
    deadline = time.monotonic() + 20
    while "through Debian-style config" not in run_in(container, "cat /var/log/user.log")[1]:
        assert time.monotonic() < deadline, run_in(container, "ls -l /var/log")[1]
        time.sleep(0.2)
    assert run_in(container, "sv status /etc/early_service/syslog")[1].startswith("run:")
