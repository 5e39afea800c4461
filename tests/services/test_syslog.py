"""syslog-ng: supervised, every facility to docker logs and /var/log/syslog, nothing lost."""

from __future__ import annotations

import pytest

from support.runit import RunitService, logs, wait_for_log
from support.tar import read_file

SYSLOG = "/etc/early_service/syslog"
# (facility, priority): auth and mail, and the rest of the range.
LEVELS = [("auth", "info"), ("authpriv", "notice"), ("mail", "err"), ("mail", "info"),
          ("daemon", "warning"), ("user", "debug"), ("cron", "crit"), ("local7", "emerg")]


@pytest.fixture
def container(start):
    return start()


@pytest.fixture
def host(container, host_of):
    return host_of(container)


def test_syslog_runs_supervised_and_listens_on_dev_log(host):
    syslog = RunitService(host, SYSLOG)
    assert syslog.is_running
    assert syslog.command == "syslog-ng"
    assert host.file("/dev/log").is_socket


def test_killed_syslog_comes_back_and_logs_again(container, host):
    syslog = RunitService(host, SYSLOG)
    old = syslog.kill()
    syslog.wait_running(other_than=old)
    host.run_expect([0], f"{SYSLOG}/check")  # /dev/log is bound again
    host.run_expect([0], "logger -t revived 'after the restart'")
    wait_for_log(container, "revived: after the restart")


def test_every_facility_and_priority_reaches_docker_logs_and_the_file(container, host):
    for facility, priority in LEVELS:
        host.run_expect([0], "logger -p %s -t levels %s", f"{facility}.{priority}",
                        f"line-{facility}-{priority}")
    output = wait_for_log(container, "line-local7-emerg")
    syslog_file = host.file("/var/log/syslog")
    for facility, priority in LEVELS:
        assert f"{facility}.{priority} levels: line-{facility}-{priority}" in output
        assert syslog_file.contains(f"levels: line-{facility}-{priority}$")


def test_syslog_lines_are_not_prefixed_by_default(container, host):
    host.run_expect([0], "logger -t plain hello")
    output = wait_for_log(container, "plain: hello")
    assert not any(line.startswith("[syslog]") for line in output.splitlines())


def test_a_burst_loses_no_line(container, host):
    count = 5000
    host.run_expect([0], "seq -f 'burst-%%g-end' 1 %s | logger -t burst", str(count))
    output = wait_for_log(container, f"burst-{count}-end")
    seen = {line.rsplit("burst: burst-", 1)[1] for line in output.splitlines() if "burst: burst-" in line}
    assert seen == {f"{n}-end" for n in range(1, count + 1)}
    in_file = host.check_output("grep -c 'burst: burst-' /var/log/syslog")
    assert int(in_file) == count


def test_syslog_file_is_root_adm_0640(container, host):
    host.run_expect([0], "logger -t perms hello")
    wait_for_log(container, "perms: hello")
    syslog_file = host.file("/var/log/syslog")
    assert (syslog_file.user, syslog_file.group, syslog_file.mode) == ("root", "adm", 0o640)


def test_works_with_a_tty(start, host_of):
    container = start(tty=True)
    host_of(container).run_expect([0], "logger -p auth.info -t tty 'with a tty'")
    assert "auth.info tty: with a tty" in wait_for_log(container, "tty: with a tty")


def test_listens_before_the_first_startup_script_and_after_the_last_hook(start):
    """What my_init guarantees: a startup script's and the last post-shutdown hook's log lines
    reach syslog (they are in /var/log/syslog, which only syslog-ng writes). logger fails
    without /dev/log, and `set -e` would make the hook fail: my_init would warn."""
    script = "#!/bin/sh\nset -eu\nlogger -t {0} 'from {0}'\n"
    container = start(files={
        "/etc/my_init.d/00_first": (script.format("startup"), 0o755),
        "/etc/my_init.post_shutdown.d/99_last": (script.format("post-shutdown"), 0o755),
    })
    wait_for_log(container, "startup: from startup")
    container.stop(timeout=20)
    container.reload()
    assert container.attrs["State"]["ExitCode"] == 0
    written = read_file(container, "/var/log/syslog")
    assert "startup: from startup" in written
    assert "post-shutdown: from post-shutdown" in written
    assert "99_last failed" not in logs(container)


def test_logrotate_config_is_valid_and_rotates_syslog(container, host):
    host.run_expect([0], "logger -t rotate before")
    wait_for_log(container, "rotate: before")
    debug = host.run("logrotate -d /etc/logrotate.conf")
    assert debug.rc == 0, debug.stderr
    assert "error" not in debug.stderr.lower()
    host.run_expect([0], "logrotate -f /etc/logrotate.conf")
    assert host.file("/var/log/syslog.1").contains("rotate: before")
    host.run_expect([0], "logger -t rotate after")
    wait_for_log(container, "rotate: after")
    assert host.file("/var/log/syslog").contains("rotate: after")  # reopened, not the old file
