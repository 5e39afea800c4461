"""Containers a benchmark starts: labelled, always removed, polled until a condition holds."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any, cast

import docker
import docker.errors
import docker.models.containers

from boxwright.errors import BenchError

__all__ = ["BENCH_LABEL", "bench_container", "exec_ok", "wait_healthy", "wait_until"]

BENCH_LABEL = "io.boxwright.bench"


@contextlib.contextmanager
def bench_container(client: docker.DockerClient, command: list[str] | None,
               image: str, **kwargs: Any) -> Iterator[docker.models.containers.Container]:
    container = client.containers.run(
        image, command, detach=True, labels={BENCH_LABEL: "1"}, stop_signal="SIGTERM", **kwargs
    )
    try:
        yield container
    finally:
        with contextlib.suppress(docker.errors.DockerException):
            container.remove(force=True)


def exec_ok(container: docker.models.containers.Container, argv: list[str]) -> str:
    code, output = container.exec_run(argv)
    if code != 0:
        raise BenchError(f"{' '.join(argv)} failed in {container.short_id} (exit {code}): {output!r}")
    return cast(bytes, output).decode().strip()  # exec_run without stream: one bytes


def wait_until(container: docker.models.containers.Container, marker: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        container.reload()
        if container.status != "running":
            raise BenchError(f"container exited early: {container.logs()[-500:]!r}")
        if container.exec_run(["sh", "-c", marker])[0] == 0:
            return
        time.sleep(0.05)
    raise BenchError(f"'{marker}' never held within {timeout} s")


def wait_healthy(container: docker.models.containers.Container, timeout: float = 60) -> float:
    """Poll Docker's health status until healthy; returns when (monotonic)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        container.reload()
        state = container.attrs["State"]
        if state.get("Health", {}).get("Status") == "healthy":
            return time.monotonic()
        if state["Status"] != "running":
            raise BenchError(f"container exited before it was healthy: {container.logs()[-500:]!r}")
        time.sleep(0.05)
    raise BenchError(f"not healthy within {timeout} s: {container.attrs['State'].get('Health')}")
