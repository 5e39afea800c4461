"""Watching processes that run under QEMU user emulation (the Ctrl-C tests of arm64 builds)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

__all__ = ["descendants", "interrupt_while_emulating", "processes", "wait_for_emulated_code_in_a_chroot"]


def processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, session id, command line) of every live process (a zombie has exited:
    it only waits for PID 1, which here is the sandbox's, to reap it)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rpartition(")")[2].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if stat[0] in ("Z", "X"):
            continue
        found[int(entry.name)] = (int(stat[1]), int(stat[3]), cmdline)
    return found


def descendants(root: int, table: dict[int, tuple[int, int, str]]) -> set[int]:
    children, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, (ppid, _, _) in table.items() if ppid in frontier} - children
        children |= frontier
    return children


def wait_for_emulated_code_in_a_chroot(
    proc: subprocess.Popen[str],
) -> tuple[set[str], dict[int, tuple[int, int, str]], set[int]]:
    """Wait until one of ``proc``'s processes runs aarch64 code under the emulator inside
    mmdebstrap's chroot; return the chroots seen, the process table and ``proc``'s descendants.

    A maintainer script lives for milliseconds, so its root is read in the same pass that finds it
    (a process that ended in between is skipped); an emulated process whose root is ``/`` (a probe
    mmdebstrap may run on the host) does not count."""
    deadline = time.monotonic() + 900
    while True:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        assert time.monotonic() < deadline, "the bootstrap never ran emulated code in its chroot"
        table = processes()
        ours = descendants(proc.pid, table)
        chroots = set()
        for pid in ours:
            if "aarch64-binfmt" in table[pid][2]:
                try:
                    chroots.add(os.readlink(f"/proc/{pid}/root"))
                except OSError:
                    continue
        if chroots - {"/"}:
            return chroots, table, ours
        time.sleep(0.2)


def interrupt_while_emulating(proc: subprocess.Popen[str]) -> str:
    """Ctrl-C ``proc`` (its own session) once it runs aarch64 code in a chroot; return its output.

    Asserts what any interrupted emulated build must leave: exit 130 and "interrupted", no process
    of its sessions, and none of the chroots it used."""
    try:
        chroots, table, ours = wait_for_emulated_code_in_a_chroot(proc)
    except BaseException:
        if proc.poll() is None:  # the build must not outlive a failed wait
            os.killpg(proc.pid, signal.SIGINT)
            proc.communicate(timeout=120)
        raise
    sessions = {table[pid][1] for pid in ours}
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, output
    assert "interrupted" in output
    left = {pid: info for pid, info in processes().items() if info[1] in sessions}
    assert not left, f"processes of the interrupted build survived: {left}"
    for chroot in chroots - {"/"}:
        assert not Path(chroot).exists(), f"mmdebstrap's chroot {chroot} was left"
        assert chroot not in Path("/proc/mounts").read_text()
    return output
