"""Turning services on and off: at build time (definitions), at run time (environment),
and the "[name] " prefix option."""

from __future__ import annotations

import pytest

from support.runit import RunitService, wait_for_log


@pytest.fixture(scope="module")
def nocron(variant_image):
    return variant_image("baseimage-nocron")


@pytest.fixture(scope="module")
def with_sshd(variant_image):
    return variant_image("baseimage-sshd")


def test_runtime_disable_keeps_services_down(start, host_of):
    container = start(environment={"MY_INIT_DISABLE_SERVICES": "cron,syslog"})
    host = host_of(container)
    assert RunitService(host, "/etc/service/cron").status == "down"
    assert RunitService(host, "/etc/early_service/syslog").status == "down"
    assert not host.file("/dev/log").exists


def test_runtime_disable_is_for_one_container(start, host_of):
    container = start(environment={"MY_INIT_DISABLE_SERVICES": "cron"})
    container.restart(timeout=20)
    wait_for_log(container, "started runsvdir -P /etc/service", count=2)
    host = host_of(container)
    assert RunitService(host, "/etc/service/cron").status == "down"  # still listed: still down
    assert RunitService(host, "/etc/early_service/syslog").wait_running()


def test_nocron_variant_has_no_cron_and_no_logrotate(start, host_of, nocron):
    host = host_of(start(nocron))
    for package in ("cron", "cron-daemon-common", "logrotate"):
        assert not host.package(package).is_installed
    for path in ("/etc/service/cron", "/etc/pam.d/cron", "/usr/sbin/cron", "/etc/crontab",
                 "/usr/local/lib/boxwright/cron-environment", "/usr/sbin/logrotate"):
        assert not host.file(path).exists, path
    assert RunitService(host, "/etc/early_service/syslog").is_running


def test_nocron_variant_syslog_goes_to_docker_logs_only_prefixed(start, host_of, nocron):
    container = start(nocron)
    host = host_of(container)
    host.run_expect([0], "logger -p mail.info -t variant hello")
    output = wait_for_log(container, "variant: hello")
    line = next(line for line in output.splitlines() if "variant: hello" in line)
    assert line.startswith("[syslog] ") and "mail.info variant: hello" in line
    assert not host.file("/var/log/syslog").exists


def test_image_has_no_systemd_and_sshd_only_installed_and_down(start, host_of, image_definition):
    host = host_of(start())
    assert not host.package("systemd").is_installed
    wanted = image_definition.service_enabled("sshd")  # default: phusion's way; slim: none
    assert host.package("openssh-server").is_installed == wanted
    assert host.file("/etc/service/sshd/down").exists == wanted
    if wanted:
        assert RunitService(host, "/etc/service/sshd").status == "down"
        # no keys in the image, none made at boot while sshd is down (it makes them when it starts)
        assert host.check_output("ls /etc/ssh | grep -c ssh_host_ || true") == "0"


def test_prefix_off_in_a_variant(start, with_sshd):
    output = wait_for_log(start(with_sshd), "starting cron")
    assert "\nstarting cron" in output and "[cron]" not in output


def test_sshd_variant_ships_down_and_without_host_keys(start, host_of, with_sshd):
    host = host_of(start(with_sshd))
    assert host.package("openssh-server").is_installed
    assert host.file("/etc/service/sshd/down").exists
    assert RunitService(host, "/etc/service/sshd").status == "down"
    assert host.check_output("ls /etc/ssh | grep -c ssh_host_ || true") == "0"
    assert host.run("cat /proc/net/tcp6 /proc/net/tcp | grep -c ':0016 '").stdout.strip() == "0"


def test_sshd_enabled_at_run_time_makes_its_own_keys(containers, start, host_of, with_sshd):
    container = start(with_sshd, environment={"SSHD_ENABLE": "1"})
    host = host_of(container)
    sshd = RunitService(host, "/etc/service/sshd")
    sshd.wait_running()
    wait_for_log(container, "Server listening on")
    keys = host.check_output("ls /etc/ssh | grep '^ssh_host_.*_key$'").split()
    assert "ssh_host_ed25519_key" in keys
    image_keys = containers.run(with_sshd, ["sh", "-c", "ls /etc/ssh | grep -c ssh_host_ || true"],
                                remove=True)
    assert image_keys == b"0\n"
    sshd.wait_running(other_than=sshd.kill())


def test_insecure_key_is_opt_in_and_loud(start, host_of, with_sshd):
    container = start(with_sshd, environment={"SSHD_ENABLE": "1"})
    host = host_of(container)
    wait_for_log(container, "Server listening on")
    login = "ssh -o BatchMode=yes -o StrictHostKeyChecking=no -i /etc/insecure_key root@127.0.0.1 id -u"
    assert host.run(login).rc != 0  # not authorized until asked for
    enable = host.run("enable_insecure_key")
    assert enable.rc == 0 and "WARNING: the INSECURE SSH key" in enable.stderr
    assert host.check_output(login) == "0"
    host.run_expect([0], "sv restart /etc/service/sshd")
    wait_for_log(container, "WARNING: the INSECURE SSH key")  # again at every start


def test_service_output_is_prefixed_with_its_name(start):
    output = wait_for_log(start(), "[cron] starting cron")
    assert "[cron] writing the cron jobs' environment" in output
    assert "[syslog]" not in output  # syslog's lines name their program: its prefix is off
