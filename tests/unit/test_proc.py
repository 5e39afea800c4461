"""The command runner against real processes: capture, stream, tails, missing tools, Ctrl-C, dry run."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from boxwright import proc
from boxwright.errors import BuildError, ToolMissing, VagrantError


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _dies(pid: int, within: float = 5) -> bool:
    """Whether ``pid`` is gone within ``within`` s: a SIGKILL is delivered when the process is next
    scheduled, not when kill() returns (on a loaded machine that is after the caller looks)."""
    deadline = time.monotonic() + within
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _alive(pid)


def test_run_captures_stdout_and_stderr_apart():
    result = proc.run(["sh", "-c", "echo out; echo err >&2"])
    assert (result.code, result.output, result.errors, result.ok) == (0, "out\n", "err\n", True)


def test_run_merges_and_adds_to_the_environment():
    result = proc.run(["sh", "-c", 'echo "$BOXWRIGHT_X"; echo err >&2'], env={"BOXWRIGHT_X": "given"},
                      merge=True)
    assert result.output == "given\nerr\n"
    assert os.environ.get("BOXWRIGHT_X") is None


def test_failure_names_the_step_and_shows_the_tail():
    script = "for i in $(seq 1 40); do echo line $i; done; exit 3"
    with pytest.raises(VagrantError) as caught:
        proc.run(["sh", "-c", script], what="counting", merge=True, error=VagrantError)
    lines = str(caught.value).splitlines()
    assert lines[0] == "counting failed (exit 3):"
    assert lines[1:] == [f"  | line {i}" for i in range(26, 41)]


def test_unchecked_failure_is_a_result():
    result = proc.run(["sh", "-c", "exit 4"], check=False)
    assert (result.code, result.ok, result.describe()) == (4, False, "exit 4")


def test_tail_formatter():
    assert proc.tail("a\n\n  \nb\nc\n", 2) == "  | b\n  | c"
    assert proc.tail(["x  ", "y"]) == "  | x\n  | y"
    assert proc.tail("") == ""


def test_missing_tool_names_its_debian_package(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolMissing) as caught:
        proc.run(["guestfish", "--version"])
    assert str(caught.value) == "'guestfish' not found: install the Debian package 'libguestfs-tools'"
    with pytest.raises(ToolMissing, match="'qemu-img' not found: install the Debian package 'qemu-utils'"):
        proc.require("qemu-img")


def test_stream_hands_over_lines_as_they_come_and_keeps_the_output():
    seen: list[tuple[str, float]] = []
    script = "echo one; sleep 0.3; printf 'two\\nthree'"
    result = proc.stream(["sh", "-c", script], on_line=lambda line: seen.append((line, time.monotonic())))
    assert [line for line, _ in seen] == ["one", "two", "three"]
    assert seen[1][1] - seen[0][1] >= 0.25  # "one" arrived before the command went on
    assert result.output == "one\ntwo\nthree"


def test_stream_feeds_stdin_and_raw_chunks():
    chunks: list[str] = []
    result = proc.stream(["cat"], input="é\nb\n", on_chunk=chunks.append)
    assert "".join(chunks) == result.output == "é\nb\n"


def test_stream_failure_raises_with_the_tail():
    with pytest.raises(BuildError, match=r"^sh failed \(exit 2\):\n  \| boom$"):
        proc.stream(["sh", "-c", "echo boom; exit 2"])


def test_timeout_kills_the_whole_process_group():
    result = proc.run(["sh", "-c", "sleep 60 & echo $!; wait"], timeout=1, check=False)
    assert result.timed_out and not result.ok and result.describe() == "timed out"
    assert _dies(int(result.output.split()[0]))


def test_ctrl_c_kills_the_whole_process_group():
    """A KeyboardInterrupt while a command runs stops it and what it started, then propagates."""
    pids: list[int] = []

    def interrupt(line: str) -> None:
        pids.append(int(line))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        proc.stream(["sh", "-c", "sleep 60 & echo $!; wait"], on_line=interrupt)
    (child,) = pids
    assert _dies(child)


def test_dry_run_logs_and_runs_nothing(tmp_path, caplog):
    marker = tmp_path / "ran"
    caplog.set_level(logging.INFO, logger="boxwright.proc")
    with proc.dry_run():
        assert proc.is_dry()
        result = proc.run(["touch", str(marker)], env={"A": "1"})
        streamed = proc.stream(["sh", "-c", f"touch {marker}"], input="x\ny\n")
        spawned = proc.spawn(["touch", str(marker)], log_file=tmp_path / "log")
        proc.require("no-such-tool-anywhere")  # a dry run needs no host tools
        probed = proc.run(["echo", "read-only"], probe=True)  # reads, changes nothing: runs anyway
    assert (probed.dry, probed.output) == (False, "read-only\n")
    assert not proc.is_dry()
    assert (result.ok, result.dry, result.output, streamed.dry, spawned) == (True, True, "", True, None)
    assert not marker.exists() and not (tmp_path / "log").exists()
    assert caplog.messages == [
        f"would run: A=1 touch {marker}",
        f"would run: sh -c 'touch {marker}'  (script of 2 lines on stdin)",
        f"would run: touch {marker}",
    ]


def test_spawn_and_stop(tmp_path):
    log = tmp_path / "server.log"
    process = proc.spawn(["sh", "-c", "echo up; sleep 60 & wait"], log_file=log)
    assert process is not None
    deadline = time.monotonic() + 5
    while "up" not in (log.read_text() if log.exists() else "") and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.stop(process)
    assert process.poll() is not None
    assert log.read_text() == "up\n"
