"""Startup scripts, rc.local, shutdown hooks: order, failure policy, deadlines."""

from __future__ import annotations

import signal


def log_step(name: str) -> str:
    return f'echo {name} >> "$OUT/order"'


def test_hooks_run_in_order_around_the_main_command(sandbox):
    sandbox.script("/etc/my_init.d/20_second", log_step("my_init.d/20_second"))
    sandbox.script("/etc/my_init.d/10_first", log_step("my_init.d/10_first"))
    sandbox.write("/etc/my_init.d/15_not_executable", "#!/bin/sh\nexit 1\n", 0o644)
    sandbox.script("/etc/rc.local", log_step("rc.local"))
    sandbox.service("svc", f"{log_step('service')}\nexec sleep 100")
    sandbox.script("/etc/my_init.pre_shutdown.d/b", log_step("pre_shutdown.d/b"))
    sandbox.script("/etc/my_init.pre_shutdown.d/a", log_step("pre_shutdown.d/a"))
    # The services are stopped between the pre- and the post-shutdown hooks.
    sandbox.script(
        "/etc/my_init.post_shutdown.d/a",
        f"{log_step('post_shutdown.d/a')}\n"
        "for p in /proc/[0-9]*; do\n"
        '  if grep -q "^sleep" $p/cmdline 2>/dev/null; then echo LEFT >> "$OUT/order"; fi\n'
        "done",
    )
    main = f'until grep -q service "$OUT/order"; do sleep 0.05; done; {log_step("main")}'
    result = sandbox.run("--", "sh", "-c", main)
    assert result.returncode == 0, result.stderr
    assert sandbox.read("order").split() == [
        "my_init.d/10_first",
        "my_init.d/20_second",
        "rc.local",
        "service",
        "main",
        "pre_shutdown.d/a",
        "pre_shutdown.d/b",
        "post_shutdown.d/a",
    ]


def test_failing_startup_script_stops_the_boot(sandbox):
    sandbox.script("/etc/my_init.d/10_fails", "exit 3")
    sandbox.script("/etc/my_init.d/20_never", log_step("20_never"))
    sandbox.service("svc", f"{log_step('service')}\nexec sleep 100")
    result = sandbox.run("--", "sh", "-c", log_step("main"))
    assert result.returncode == 1
    script = sandbox.path("/etc/my_init.d/10_fails")
    assert result.messages("ERROR") == [f"{script} failed with exit code 3 (exit code 3); stopping"]
    assert sandbox.read("order") == ""
    assert not sandbox.path("/etc/service/svc/supervise").exists()  # runit never started


def test_failure_policy_continue_only_warns(sandbox):
    sandbox.script("/etc/my_init.d/10_fails", "exit 3")
    sandbox.script("/etc/my_init.d/20_next", log_step("20_next"))
    result = sandbox.run(
        "--skip-runit", "--", "sh", "-c", log_step("main"), env={"MY_INIT_STARTUP_FAILURE": "continue"}
    )
    assert result.returncode == 0, result.stderr
    assert sandbox.read("order").split() == ["20_next", "main"]
    [warning] = result.messages("WARN")
    assert "10_fails failed (exit code 3); continuing" in warning


def test_startup_script_killed_by_a_signal_stops_the_boot(sandbox):
    sandbox.script("/etc/my_init.d/10_dies", "kill -s KILL $$")
    result = sandbox.run("--skip-runit", "--", "true")
    assert result.returncode == 1
    [error] = result.messages("ERROR")
    assert "failed with exit code 137 (killed by signal 9)" in error


def test_skip_startup_files(sandbox):
    sandbox.script("/etc/my_init.d/10_first", log_step("10_first"))
    result = sandbox.run("--skip-startup-files", "--skip-runit", "--", "sh", "-c", log_step("main"))
    assert result.returncode == 0
    assert sandbox.read("order").split() == ["main"]
    assert not sandbox.path("/etc/container_environment").exists()


def test_term_during_a_startup_script_stops_it(sandbox, started):
    sandbox.script("/etc/my_init.d/10_slow", f"{log_step('slow')}\nexec sleep 100")
    sandbox.script("/etc/my_init.d/20_never", log_step("20_never"))
    init = started("--skip-runit")
    sandbox.wait_for("order")
    init.signal(signal.SIGTERM)
    result = init.wait()
    assert result.returncode == 0
    assert sandbox.read("order").split() == ["slow"]
    assert result.seconds < 5


def test_hook_over_its_deadline_is_killed_and_the_next_still_runs(sandbox, started):
    sandbox.script("/etc/my_init.pre_shutdown.d/10_hangs", f"{log_step('hangs')}\nexec sleep 100")
    sandbox.script("/etc/my_init.post_shutdown.d/10_after", log_step("after"))
    init = started("--skip-runit", env={"MY_INIT_SHUTDOWN_BUDGET": "2"})
    init.signal(signal.SIGTERM)
    result = init.wait()
    assert result.returncode == 0
    assert sandbox.read("order").split() == ["hangs", "after"]
    assert result.seconds < 2 + 1.5
    hook = sandbox.path("/etc/my_init.pre_shutdown.d/10_hangs")
    assert f"{hook} did not stop in time; frozen-process report, then SIGKILL:" in result.messages("ERROR")
