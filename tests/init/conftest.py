"""Fixtures for my_init: a scratch MY_INIT_ROOT on the host, and the program loaded as a module.

Host tests run my_init as PID 1 of a fresh PID namespace (`unshare --fork --pid --mount-proc`),
with every path it touches under a temporary MY_INIT_ROOT, so the host's /etc is never written.
They need root, util-linux's unshare and runit (runsvdir, runsv, sv) on the host.
"""

from __future__ import annotations

import os
import subprocess
import time
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MY_INIT = ROOT / "images" / "baseimage" / "rootfs" / "sbin" / "my_init"
HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def load_my_init() -> types.ModuleType:
    """my_init as a module, compiled in memory (no __pycache__ next to the rootfs file)."""
    module = types.ModuleType("my_init")
    module.__file__ = str(MY_INIT)
    exec(compile(MY_INIT.read_text(), str(MY_INIT), "exec"), module.__dict__)
    return module


@pytest.fixture(scope="session")
def my_init() -> types.ModuleType:
    return load_my_init()


@pytest.fixture(scope="session")
def my_init_program() -> Path:
    """The program file, images/baseimage/rootfs/sbin/my_init."""
    return MY_INIT


@dataclass
class Result:
    """How one my_init run ended."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def messages(self, level: str) -> list[str]:
        """my_init's own stderr lines of one level, without the `my_init: LEVEL: ` prefix."""
        prefix = f"my_init: {level}: "
        return [line[len(prefix) :] for line in self.stderr.splitlines() if line.startswith(prefix)]


class Running:
    """A my_init started in the background: signal it as Docker would (from outside)."""

    def __init__(self, process: subprocess.Popen[str]):
        self.process = process
        self.started = time.monotonic()

    @property
    def init_pid(self) -> int:
        """The host pid of my_init, the only child of unshare."""
        deadline = time.monotonic() + 10
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        while time.monotonic() < deadline:
            children = path.read_text().split()
            if children:
                return int(children[0])
            time.sleep(0.01)
        raise AssertionError("unshare started no child")

    def wait_ready(self, timeout: float = 10) -> None:
        """Wait until my_init blocks SIGTERM: from then on, no signal sent to it gets lost.

        (Before that, while Python starts, the kernel drops signals to a namespace's PID 1.)
        my_init blocks its signals before it re-executes itself from bytecode, so the .pyc in
        its command line says so; SigBlk alone does not, as it reads 0 inside sigtimedwait.
        """
        proc = Path(f"/proc/{self.init_pid}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if b"my_init.pyc" in (proc / "cmdline").read_bytes():
                return
            time.sleep(0.01)
        raise AssertionError("my_init never got ready")

    def signal(self, signo: int) -> float:
        """Send `signo` to my_init once it is ready; returns the monotonic time it was sent."""
        self.wait_ready()
        os.kill(self.init_pid, signo)
        return time.monotonic()

    def wait(self, timeout: float = 30) -> Result:
        stdout, stderr = self.process.communicate(timeout=timeout)
        seconds = time.monotonic() - self.started
        return Result(self.process.returncode, stdout, stderr, seconds)


class Sandbox:
    """A scratch MY_INIT_ROOT plus an `out` directory where test scripts leave evidence."""

    def __init__(self, root: Path):
        self.root = root
        self.out = root / "out"
        self.out.mkdir(parents=True)

    def path(self, path: str) -> Path:
        """`path` (absolute, as my_init sees it) inside the sandbox."""
        return self.root / path.lstrip("/")

    def write(self, path: str, text: str, mode: int = 0o755) -> Path:
        target = self.path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(mode)
        return target

    def script(self, path: str, body: str, mode: int = 0o755) -> Path:
        """A /bin/sh script; $OUT and $MY_INIT_ROOT are set when my_init runs it."""
        return self.write(path, f"#!/bin/sh\nset -eu\n{body}\n", mode)

    def service(
        self,
        name: str,
        run: str,
        *,
        check: str | None = None,
        early: bool = False,
        critical: bool = False,
    ) -> Path:
        """A runit service directory under /etc/service (or /etc/early_service)."""
        directory = f"/etc/{'early_service' if early else 'service'}/{name}"
        self.script(f"{directory}/run", run)
        if check is not None:
            self.script(f"{directory}/check", check)
        if critical:
            self.write(f"{directory}/critical", "", 0o644)
        return self.path(directory)

    def env(self, **extra: str) -> dict[str, str]:
        return {"PATH": HOST_PATH, "MY_INIT_ROOT": str(self.root), "OUT": str(self.out), **extra}

    def backdate_service_dirs(self) -> None:
        """runsvdir waits a second before it scans a directory changed within the last second;
        the ones the tests just wrote are made to look old instead."""
        for name in ("/etc/service", "/etc/early_service"):
            path = self.path(name)
            if path.is_dir():
                past = time.time() - 60
                os.utime(path, (past, past))

    def argv(self, args: tuple[str, ...]) -> list[str]:
        self.backdate_service_dirs()
        return ["unshare", "--fork", "--pid", "--mount-proc", "--kill-child", str(MY_INIT), *args]

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Result:
        """Run my_init to completion as PID 1 of a new PID namespace."""
        start = time.monotonic()
        completed = subprocess.run(
            self.argv(args),
            env=self.env(**(env or {})),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        seconds = time.monotonic() - start
        return Result(completed.returncode, completed.stdout, completed.stderr, seconds)

    def start(self, *args: str, env: dict[str, str] | None = None) -> Running:
        process = subprocess.Popen(
            self.argv(args),
            env=self.env(**(env or {})),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        return Running(process)

    def wait_for(self, name: str, timeout: float = 20) -> str:
        """Wait until out/`name` exists and is not empty; returns its text."""
        path = self.out / name
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if path.exists() and path.stat().st_size:
                return path.read_text()
            time.sleep(0.02)
        raise AssertionError(f"{path} never appeared")

    def read(self, name: str) -> str:
        path = self.out / name
        return path.read_text() if path.exists() else ""


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    yield Sandbox(tmp_path / "root")


@pytest.fixture
def started(sandbox: Sandbox) -> Iterator[Callable[..., Running]]:
    """`started(*args, env=...)`: a background my_init, killed after the test if still running."""
    runs: list[Running] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Running:
        running = sandbox.start(*args, env=env)
        runs.append(running)
        return running

    yield start
    for running in runs:
        if running.process.poll() is None:
            running.process.kill()
            running.process.communicate()
