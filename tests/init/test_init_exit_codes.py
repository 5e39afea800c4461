"""my_init's exit code is the main command's: passthrough, 128+n for signals, 127 and 126."""

from __future__ import annotations

import signal

import pytest

FAST = ("--skip-startup-files", "--skip-runit")


@pytest.mark.parametrize("code", range(256))
def test_exit_code_passes_through(sandbox, code):
    result = sandbox.run(*FAST, "--quiet", "--", "sh", "-c", f"exit {code}")
    assert result.returncode == code, result.stderr
    assert result.stderr == ""


@pytest.mark.parametrize("name", ["TERM", "INT", "HUP", "QUIT", "USR1", "USR2", "KILL"])
def test_main_command_killed_by_signal_exits_128_plus_n(sandbox, name):
    result = sandbox.run(*FAST, "--", "sh", "-c", f"kill -s {name} $$; sleep 10")
    signo = getattr(signal, f"SIG{name}")
    assert result.returncode == 128 + signo
    assert f"main command exited: killed by signal {signo}" in result.messages("INFO")


def test_command_not_found_exits_127(sandbox):
    result = sandbox.run(*FAST, "--", "no-such-command-here")
    assert result.returncode == 127
    assert result.messages("ERROR") == ["main command not found: 'no-such-command-here'"]


@pytest.mark.parametrize("kind", ["not-executable", "directory"])
def test_command_not_executable_exits_126(sandbox, kind):
    target = sandbox.write("/bin/target", "#!/bin/sh\nexit 0\n", 0o644)
    if kind == "directory":
        target.unlink()
        target.mkdir()
    result = sandbox.run(*FAST, "--", str(target))
    assert result.returncode == 126
    [error] = result.messages("ERROR")
    assert error.startswith(f"main command cannot be executed: '{target}'")


def test_main_command_without_double_dash(sandbox):
    result = sandbox.run(*FAST, "sh", "-c", "exit 7")
    assert result.returncode == 7


def test_unknown_option_is_a_usage_error(sandbox):
    result = sandbox.run("--frobnicate")
    assert result.returncode == 2
    assert "unknown option '--frobnicate'" in result.stderr
    assert "usage: my_init" in result.stderr


def test_messages_are_one_line_each_with_a_level(sandbox):
    result = sandbox.run(*FAST, "-v", "--", "sh", "-c", "exit 0")
    lines = result.stderr.splitlines()
    assert lines
    assert all(line.split(": ")[1] in {"DEBUG", "INFO", "WARN", "ERROR"} for line in lines)
    assert result.messages("DEBUG")


def test_quiet_keeps_only_warnings_and_errors(sandbox):
    result = sandbox.run(*FAST, "--quiet", "--", "no-such-command-here")
    assert result.returncode == 127
    assert result.messages("INFO") == []
    assert result.messages("ERROR") == ["main command not found: 'no-such-command-here'"]
