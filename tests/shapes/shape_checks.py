"""Helpers for the runtime-shape suites: files into a container, its health, its logs.

pytest puts this folder on sys.path (no __init__.py), so the tests import it by name.
"""

from __future__ import annotations

import io
import tarfile
import time
from typing import Any

__all__ = ["exec_out", "health", "logs", "tar_of", "wait_for_log", "wait_health"]


def tar_of(files: dict[str, tuple[str, int] | str]) -> bytes:
    """A tar of ``{path: text | (text, mode)}`` for ``put_archive("/", ...)``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, spec in files.items():
            text, mode = spec if isinstance(spec, tuple) else (spec, 0o644)
            data = text.encode()
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mode, info.mtime = len(data), mode, int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def logs(container: Any) -> str:
    return container.logs(stdout=True, stderr=True).decode("utf-8", "replace")


def wait_for_log(container: Any, text: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        output = logs(container)
        if text in output:
            return output
        container.reload()
        if time.monotonic() > deadline or container.status == "exited":
            raise AssertionError(f"{text!r} not in the logs of {container.name}:\n{output}")
        time.sleep(0.2)


def health(container: Any) -> tuple[str, list[dict[str, Any]]]:
    """(status, log entries) of the container's HEALTHCHECK, as `docker inspect` shows them."""
    container.reload()
    state = container.attrs["State"].get("Health") or {}
    return state.get("Status", "none"), state.get("Log") or []


def wait_health(container: Any, want: str, timeout: float = 60) -> list[dict[str, Any]]:
    """Wait until the health status is ``want``; returns the log entries."""
    deadline = time.monotonic() + timeout
    while True:
        status, entries = health(container)
        if status == want:
            return entries
        if time.monotonic() > deadline or container.status == "exited":
            raise AssertionError(f"{container.name} is {status}, not {want}: {entries}\n{logs(container)}")
        time.sleep(0.2)


def exec_out(container: Any, *argv: str, user: str = "") -> tuple[int, str]:
    result = container.exec_run(list(argv), user=user, demux=False)
    return result.exit_code, result.output.decode("utf-8", "replace")
