"""Reaping adopted orphans, forwarding signals to the main command's group, TERM/INT."""

from __future__ import annotations

import signal

import pytest

FAST = ("--skip-startup-files", "--skip-runit")

# 1 000 double-forked orphans (`(cmd &)`: the subshell exits, PID 1 adopts cmd), then a second
# later the number of zombies in the namespace.
ORPHANS = r"""
i=0
while [ $i -lt 1000 ]; do (sleep 0.2 &); i=$((i + 1)); done
sleep 1.2
cat /proc/[0-9]*/stat 2>/dev/null | grep -c ') Z ' || true
"""

# The main command and a child in its process group both record every signal they get.
RECORDER = r"""
import os, signal, sys, time
out = sys.argv[1]
names = sys.argv[2:]
def record(signo, frame):
    with open(f"{out}/got-{os.getpid()}", "a") as f:
        f.write(f"{signal.Signals(signo).name}\n")
for name in names:
    signal.signal(getattr(signal, name), record)
child = os.fork()
with open(f"{out}/pids.tmp", "a") as f:
    f.write(f"{os.getpid()}\n")
if child:
    time.sleep(0.2)
    os.rename(f"{out}/pids.tmp", f"{out}/pids")
while True:
    time.sleep(0.05)
"""

FORWARDED = ["SIGHUP", "SIGUSR1", "SIGUSR2", "SIGQUIT", "SIGWINCH", "SIGALRM", "SIGCONT"]


def test_orphans_are_reaped(sandbox):
    result = sandbox.run(*FAST, "--", "sh", "-c", ORPHANS, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"


def test_signals_are_forwarded_to_the_main_command_group(sandbox, started):
    sandbox.write("/recorder.py", RECORDER, 0o644)
    init = started(*FAST, "--", "python3", str(sandbox.path("/recorder.py")), str(sandbox.out), *FORWARDED)
    pids = sandbox.wait_for("pids").split()
    assert len(pids) == 2
    for name in FORWARDED:
        init.signal(getattr(signal, name))
        for pid in pids:
            sandbox.wait_for(f"got-{pid}")
    expected = sorted(FORWARDED)
    for pid in pids:
        for _ in range(100):
            if sorted(sandbox.read(f"got-{pid}").split()) == expected:
                break
            init.signal(signal.SIGCHLD)  # a cheap way to let time pass inside the loop
        assert sorted(sandbox.read(f"got-{pid}").split()) == expected
    init.signal(signal.SIGTERM)
    result = init.wait()
    assert result.returncode == 128 + signal.SIGTERM


@pytest.mark.parametrize("signo", [signal.SIGTERM, signal.SIGINT])
def test_term_and_int_stop_a_main_command(sandbox, started, signo):
    init = started(*FAST, "--", "sh", "-c", 'echo up > "$OUT/up"; exec sleep 100')
    sandbox.wait_for("up")
    init.signal(signo)
    result = init.wait()
    assert result.returncode == 128 + signal.SIGTERM  # the main command gets SIGTERM
    assert f"received signal {signo}: shutting down" in result.messages("INFO")


@pytest.mark.parametrize("signo", [signal.SIGTERM, signal.SIGINT])
def test_term_and_int_without_main_command_exit_0(sandbox, started, signo):
    sandbox.script("/etc/my_init.d/10_up", 'echo up > "$OUT/up"')
    init = started("--skip-runit")
    sandbox.wait_for("up")
    init.signal(signo)
    result = init.wait()
    assert result.returncode == 0, result.stderr
    assert result.seconds < 5


def test_main_command_runs_in_its_own_process_group(sandbox):
    result = sandbox.run(
        *FAST, "--", "sh", "-c", 'ps_pgid=$(cut -d\' \' -f5 /proc/$$/stat); [ "$ps_pgid" = "$$" ]'
    )
    assert result.returncode == 0, result.stderr


def test_children_start_with_default_signal_dispositions(sandbox):
    # Python ignores SIGPIPE; a child must not inherit that, nor a blocked mask.
    script = "exec grep -E '^Sig(Blk|Ign):' /proc/self/status"
    result = sandbox.run(*FAST, "--", "sh", "-c", script)
    _, blocked, _, ignored = result.stdout.split()
    glibc_internal = (1 << 31) | (1 << 32)  # signals 32 and 33, which no program can reset
    assert int(blocked, 16) == 0
    assert int(ignored, 16) & ~glibc_internal == 0


def test_leftover_processes_are_killed_within_the_budget(sandbox, started):
    # A daemon that left the main command's group and ignores SIGTERM: kill-all gets it.
    daemon = 'setsid sh -c \'trap "" TERM; echo $$ > "$OUT/daemon"; while :; do sleep 1; done\' &'
    init = started(*FAST, "--", "sh", "-c", f"{daemon} exec sleep 100", env={"MY_INIT_SHUTDOWN_BUDGET": "2"})
    sandbox.wait_for("daemon")
    sent = init.signal(signal.SIGTERM)
    result = init.wait()
    assert result.returncode == 128 + signal.SIGTERM
    assert init.process.returncode is not None
    assert result.seconds - (sent - init.started) < 2 + 1
    daemon_pid = sandbox.read("daemon").strip()
    [warning] = [w for w in result.messages("WARN") if w.startswith("sending SIGKILL")]
    assert f"{daemon_pid} (sh)" in warning


def test_no_kill_all_on_exit_leaves_the_rest_alone(sandbox, started):
    daemon = 'setsid sh -c \'trap "" TERM; echo $$ > "$OUT/daemon"; while :; do sleep 1; done\' &'
    result = sandbox.run(
        *FAST,
        "--no-kill-all-on-exit",
        "--",
        "sh",
        "-c",
        f'{daemon} until [ -s "$OUT/daemon" ]; do sleep 0.05; done',
    )
    assert result.returncode == 0
    assert not any("remaining processes" in m for m in result.messages("INFO"))
