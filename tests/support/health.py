"""A container's HEALTHCHECK as Docker reports it, and commands run in it."""

from __future__ import annotations

import time
from typing import Any

from support.runit import logs

__all__ = ["exec_out", "health", "wait_health"]


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
