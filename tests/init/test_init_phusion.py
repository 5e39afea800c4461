"""What phusion's my_init users rely on (issue 12): one SIGTERM per service at stop, readiness that
means running, and `--enable-insecure-key`."""

from __future__ import annotations

import signal

import pytest

# A service that counts the TERMs it gets: a trap that stops the app must run once.
COUNTING = """trap 'echo term >> "$OUT/{0}.terms"; exit 0' TERM
echo up > "$OUT/{0}.up"
while :; do sleep 0.05; done"""


@pytest.mark.parametrize("early", [False, True])
def test_each_service_gets_exactly_one_sigterm_at_stop(sandbox, started, early):
    for name in ("one", "two"):
        sandbox.service(name, COUNTING.format(name), early=early)
    init = started()
    sandbox.wait_for("one.up")
    sandbox.wait_for("two.up")
    init.signal(signal.SIGTERM)
    result = init.wait()
    assert result.returncode == 0, result.stderr
    assert sandbox.read("one.terms") == "term\n"
    assert sandbox.read("two.terms") == "term\n"


def test_a_crash_looping_service_is_never_reported_up(sandbox):
    sandbox.service("crashy", 'echo start >> "$OUT/starts"\nexit 1')
    sandbox.service("fine", "exec sleep 1000")
    env = {"MY_INIT_WAIT_FOR_SERVICES": "1", "MY_INIT_WAIT_FOR_SERVICES_TIMEOUT": "3"}
    result = sandbox.run("--", "sh", "-c", 'echo ran > "$OUT/main"', env=env)
    assert result.returncode == 1
    assert result.messages("ERROR") == ["services not up after 3s: crashy"]
    assert not any(m.startswith("services up") for m in result.messages("INFO"))
    assert len(sandbox.read("starts").split()) >= 2  # it did crash-loop meanwhile
    assert sandbox.read("main") == ""


def test_a_crash_looping_service_with_a_check_is_never_reported_up(sandbox):
    # The check passes (like a stale /dev/log would): the service must also be running.
    sandbox.service("crashy", 'echo start >> "$OUT/starts"\nexit 1', check="true", early=True)
    result = sandbox.run("--", "true", env={"MY_INIT_WAIT_FOR_SERVICES_TIMEOUT": "3"})
    assert result.returncode == 1
    assert result.messages("ERROR") == ["services not up after 3s: crashy"]


def test_a_service_down_by_the_image_counts_as_up(sandbox):
    sandbox.service("sshd", "exec sleep 1000")
    sandbox.write("/etc/service/sshd/down", "", 0o644)
    sandbox.service("fine", "exec sleep 1000")
    result = sandbox.run("--", "true", env={"MY_INIT_WAIT_FOR_SERVICES": "1"})
    assert result.returncode == 0, result.stderr
    assert "services up: fine, sshd" in result.messages("INFO")


def test_enable_insecure_key_runs_the_tool_before_the_startup_scripts(sandbox):
    sandbox.script("/usr/sbin/enable_insecure_key", 'echo key >> "$OUT/order"')
    sandbox.script("/etc/my_init.d/10_first", 'echo script >> "$OUT/order"')
    result = sandbox.run("--enable-insecure-key", "--skip-runit", "--", "true")
    assert result.returncode == 0, result.stderr
    assert sandbox.read("order") == "key\nscript\n"
    assert any("insecure key" in m for m in result.messages("WARN"))


def test_enable_insecure_key_without_the_tool_is_one_error(sandbox):
    sandbox.script("/etc/my_init.d/10_first", 'echo script >> "$OUT/order"')
    result = sandbox.run("--enable-insecure-key", "--skip-runit", "--", "true")
    assert result.returncode == 1
    assert len(result.messages("ERROR")) == 1
    assert "enable_insecure_key" in result.messages("ERROR")[0]
    assert sandbox.read("order") == ""
