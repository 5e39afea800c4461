"""Containers and pods under rootful Podman for the orchestrator tests: labelled, tracked, removed.

Every podman call goes through :func:`boxwright.image.podman.podman` (one containers.conf: runc,
lowered limits). Containers carry the session label of :mod:`support.containers`, so
:meth:`Podman.remove_all` finds what a crashed test left.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

from boxwright.errors import EngineError
from boxwright.image.podman import podman
from boxwright.proc import Result, run
from support.containers import SESSION, TEST_LABEL

__all__ = ["Podman", "RootlessPodman"]

_names = itertools.count()


class Podman:
    """``create``/``start``/``exec``/``wait``/``logs`` on Podman containers of one image."""

    def __init__(self, config: Path, image: str):
        self.config, self.image = config, image
        self.label = f"{TEST_LABEL}={SESSION}"

    def __call__(self, *args: str, check: bool = True, timeout: float = 120) -> Result:
        return podman(list(args), self.config, check=check, timeout=timeout)

    def start(self, *command: str, files: dict[str, tuple[str, int]] | None = None,
              options: tuple[str, ...] = ()) -> str:
        """A started container of the image (``files`` put in before it starts); its name."""
        name = f"boxwright-test-{SESSION}-{next(_names)}"
        self("create", "--name", name, "--label", self.label, *options, self.image, *command)
        if files:
            with tempfile.TemporaryDirectory() as tmp:
                for path, (text, mode) in files.items():
                    target = Path(tmp) / path.lstrip("/")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(text)
                    target.chmod(mode)
                self("cp", f"{tmp}/.", f"{name}:/")
        self("start", name)
        return name

    def exec(self, name: str, *argv: str) -> tuple[int, str]:
        result = self("exec", name, *argv, check=False)
        return result.code, result.output

    def wait(self, name: str, timeout: float = 60) -> int:
        """The container's exit code once it has stopped by itself."""
        return int(self("wait", name, timeout=timeout).output.strip())

    def logs(self, name: str) -> str:
        result = self("logs", name)
        return result.output + result.errors

    def inspect(self, name: str) -> dict[str, Any]:
        return dict(json.loads(self("inspect", name).output)[0])

    def exit_code(self, name: str) -> int:
        return int(self.inspect(name)["State"]["ExitCode"])

    def wait_until(self, name: str, *argv: str, timeout: float = 30) -> str:
        """Run ``argv`` in the container until it exits 0 (a give-up guard, not a timing); its output."""
        deadline = time.monotonic() + timeout
        while True:
            code, out = self.exec(name, *argv)
            if code == 0:
                return out
            if time.monotonic() > deadline:
                raise AssertionError(f"{' '.join(argv)} never passed in {name}: {out}\n{self.logs(name)}")
            time.sleep(0.2)

    def remove_all(self) -> None:
        """Remove this session's containers and pods (kube play pods carry the label too)."""
        with contextlib.suppress(EngineError):
            pods = self("pod", "ps", "-q", "--filter", f"label={self.label}").output.split()
            if pods:
                self("pod", "rm", "--force", *pods)
            names = self("ps", "-aq", "--filter", f"label={self.label}").output.split()
            if names:
                self("rm", "--force", *names)


class RootlessPodman(Podman):
    """:class:`Podman` as an unprivileged user (``setpriv``), with its own store under ``home``."""

    def __init__(self, config: Path, image: str, home: Path, uid: int, gid: int):
        super().__init__(config, image)
        self.home, self.uid, self.gid = home, uid, gid

    def __call__(self, *args: str, check: bool = True, timeout: float = 120) -> Result:
        argv = ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups", "podman", *args]
        env = {"CONTAINERS_CONF": str(self.config), "HOME": str(self.home),
               "XDG_RUNTIME_DIR": str(self.home / "run")}
        return run(argv, env=env, check=check, timeout=timeout, what=f"rootless podman {args[0]}",
                   error=EngineError)

    def stop_user_namespace(self) -> None:
        """End the pause process rootless podman keeps its user namespace in."""
        pid_file = self.home / "run" / "libpod" / "tmp" / "pause.pid"
        with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
