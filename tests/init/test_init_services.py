"""runit services under my_init: bounded shutdown, frozen-process report, critical services,
readiness, MY_INIT_DISABLE_SERVICES and early services."""

from __future__ import annotations

import shutil
import signal

MARGIN = 1.0  # seconds the shutdown may take beyond its budget (process start-up, reaping)

# Ignores SIGTERM and has a child that ignores it too (an ignored signal survives fork and exec).
STUBBORN = """trap '' TERM
sleep 1000 &
echo $! > "$OUT/stubborn.child"
echo $$ > "$OUT/stubborn.pid"
while :; do sleep 1; done"""

# Runs in the post-shutdown phase: which of the recorded pids still exist?
STILL_ALIVE = """for f in "$OUT"/*.pid "$OUT"/*.child; do
  [ -e "$f" ] || continue
  pid=$(cat "$f")
  if [ -e /proc/$pid ] && ! grep -q ') Z' /proc/$pid/stat; then echo "$f" >> "$OUT/alive"; fi
done
echo checked >> "$OUT/alive\""""


def up(name: str) -> str:
    return f'echo $$ > "$OUT/{name}.pid"'


def test_term_ignoring_service_with_a_child_is_killed_within_budget(sandbox, started):
    sandbox.service("stubborn", STUBBORN)
    sandbox.script("/etc/my_init.post_shutdown.d/check", STILL_ALIVE)
    init = started(env={"MY_INIT_SHUTDOWN_BUDGET": "2"})
    sandbox.wait_for("stubborn.child")
    sent = init.signal(signal.SIGTERM)
    result = init.wait()
    assert result.returncode == 0
    assert result.seconds - (sent - init.started) < 2 + MARGIN
    assert sandbox.read("alive").split() == ["checked"]
    errors = result.messages("ERROR")
    assert "service stubborn did not stop in time; frozen-process report, then SIGKILL:" in errors
    for name in ("stubborn.pid", "stubborn.child"):
        pid = sandbox.read(name).strip()
        [line] = [e for e in errors if e.startswith(f"frozen service stubborn: pid {pid} ")]
        assert " state S " in line and " wchan " in line and " syscall " in line
    assert any("cmdline 'sleep 1000'" in e for e in errors)


def test_budget_holds_whatever_everything_does(sandbox, started):
    sandbox.service("slow", f"{up('slow')}\ntrap 'sleep 30; exit 0' TERM\nwhile :; do sleep 1; done")
    sandbox.service("ignores", f"{up('ignores')}\ntrap '' TERM\nwhile :; do sleep 1; done")
    forker = 'sh -c \'trap "" TERM; echo $$ > "$OUT/forker.child"; exec sleep 1000\' &\nexec sleep 1000'
    sandbox.service("forks", f"{up('forks')}\n{forker}")
    sandbox.service("quick", f"{up('quick')}\nexec sleep 1000")
    sandbox.script("/etc/my_init.pre_shutdown.d/hangs", "exec sleep 1000")
    sandbox.script("/etc/my_init.post_shutdown.d/check", STILL_ALIVE)
    sandbox.script("/etc/my_init.post_shutdown.d/hangs", "exec sleep 1000")
    main = "trap '' TERM; while :; do sleep 1; done"
    init = started("--", "sh", "-c", main, env={"MY_INIT_SHUTDOWN_BUDGET": "4"})
    for name in ("slow", "ignores", "forks", "quick"):
        sandbox.wait_for(f"{name}.pid")
    sandbox.wait_for("forker.child")
    sent = init.signal(signal.SIGTERM)
    result = init.wait()
    assert result.seconds - (sent - init.started) < 4 + MARGIN
    assert result.returncode == 128 + signal.SIGKILL  # the main command had to be killed
    assert sandbox.read("alive").split() == ["checked"]
    stuck = {e.split()[0:2][1] for e in result.messages("ERROR") if e.startswith("service ")}
    assert stuck == {"slow", "ignores", "forks"}


def test_service_that_stops_on_term_gets_no_report(sandbox, started):
    sandbox.service("polite", f"{up('polite')}\ntrap 'sleep 0.3; exit 0' TERM\nwhile :; do sleep 0.1; done")
    init = started()
    sandbox.wait_for("polite.pid")
    init.signal(signal.SIGTERM)
    result = init.wait()
    assert result.returncode == 0
    assert result.messages("ERROR") == []


def test_critical_service_exit_code_becomes_the_exit_code(sandbox):
    sandbox.service("worker", "exec sleep 1000")
    sandbox.service("batch", "sleep 0.5\nexit 42", critical=True)
    result = sandbox.run()
    assert result.returncode == 42
    assert "critical service batch exited (42 0): stopping with 42" in result.messages("ERROR")


def test_critical_service_killed_by_a_signal(sandbox):
    sandbox.service("batch", "sleep 0.5\nkill -s USR1 $$")
    result = sandbox.run("--", "sleep", "100", env={"MY_INIT_CRITICAL_SERVICES": "other, batch"})
    assert result.returncode == 128 + signal.SIGUSR1


def test_critical_service_with_its_own_finish_calls_my_init(sandbox, my_init_program):
    directory = sandbox.service("batch", "exit 7", critical=True)
    (directory / "finish").write_text(
        f'#!/bin/sh\necho finished >> "$OUT/finish"\nexec {my_init_program} --service-exited "$@"\n'
    )
    (directory / "finish").chmod(0o755)
    result = sandbox.run()
    assert result.returncode == 7
    assert sandbox.read("finish").split()[:1] == ["finished"]


def test_wait_for_services_waits_for_check(sandbox):
    sandbox.service("db", 'sleep 1\ntouch "$OUT/db.ready"\nexec sleep 1000', check='[ -e "$OUT/db.ready" ]')
    main = '[ -e "$OUT/db.ready" ] && echo ready > "$OUT/main"'
    result = sandbox.run("--", "sh", "-c", main, env={"MY_INIT_WAIT_FOR_SERVICES": "1"})
    assert result.returncode == 0, result.stderr
    assert sandbox.read("main") == "ready\n"


def test_wait_for_services_timeout_names_the_laggards(sandbox):
    sandbox.service("never", "exec sleep 1000", check="exit 1")
    sandbox.service("fine", "exec sleep 1000")
    env = {"MY_INIT_WAIT_FOR_SERVICES": "1", "MY_INIT_WAIT_FOR_SERVICES_TIMEOUT": "1"}
    result = sandbox.run("--", "sh", "-c", 'echo ran > "$OUT/main"', env=env)
    assert result.returncode == 1
    assert result.messages("ERROR") == ["services not up after 1s: never"]
    assert sandbox.read("main") == ""
    assert result.seconds < 10


def test_disable_services(sandbox):
    sandbox.service("cron", f"{up('cron')}\nexec sleep 1000")
    sandbox.service("syslog", f"{up('syslog')}\nexec sleep 1000")
    sandbox.service("ssh", f"{up('ssh')}\nexec sleep 1000")
    sandbox.write("/etc/service/ssh/down", "", 0o644)  # the image's own choice
    main = 'sleep 1; ls "$OUT"'
    result = sandbox.run("--", "sh", "-c", main, env={"MY_INIT_DISABLE_SERVICES": "cron,syslog"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == []
    assert sandbox.path("/etc/service/cron/down").exists()
    # A new container (no exported environment) without the variable starts them again;
    # the image's own down file stays.
    shutil.rmtree(sandbox.path("/etc/container_environment"))
    result = sandbox.run("--", "sh", "-c", main)
    assert result.stdout.split() == ["cron.pid", "syslog.pid"]
    assert not sandbox.path("/etc/service/cron/down").exists()
    assert sandbox.path("/etc/service/ssh/down").exists()


def test_early_services_outlive_the_startup_and_shutdown_hooks(sandbox, started):
    sandbox.service(
        "syslog", 'touch "$OUT/dev-log"\nexec sleep 1000', check='[ -e "$OUT/dev-log" ]', early=True
    )
    sandbox.service("app", f"{up('app')}\nexec sleep 1000")
    sandbox.script("/etc/my_init.d/10_first", '[ -e "$OUT/dev-log" ] && echo startup >> "$OUT/syslog-seen"')
    sandbox.script(
        "/etc/my_init.post_shutdown.d/99_last",
        'pgrep() { for p in /proc/[0-9]*; do grep -q "sleep" $p/cmdline 2>/dev/null && echo $p; done; }\n'
        '[ "$(pgrep | wc -l)" = 1 ] && echo post >> "$OUT/syslog-seen"',
    )
    init = started()
    sandbox.wait_for("app.pid")
    init.signal(signal.SIGTERM)
    result = init.wait()
    assert result.returncode == 0, result.stderr
    assert sandbox.read("syslog-seen").split() == ["startup", "post"]


def test_critical_service_behind_a_symlink(sandbox):
    # Debian's layout: /etc/service/NAME -> /etc/sv/OTHER; runsv runs ./finish in the target.
    sandbox.script("/etc/sv/application/run", "sleep 0.5\nexit 9")
    sandbox.path("/etc/service").mkdir(parents=True)
    sandbox.path("/etc/service/app").symlink_to(sandbox.path("/etc/sv/application"))
    result = sandbox.run(env={"MY_INIT_CRITICAL_SERVICES": "app"})
    assert result.returncode == 9
    assert "critical service app exited (9 0): stopping with 9" in result.messages("ERROR")
