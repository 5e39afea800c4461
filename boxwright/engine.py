"""A Docker engine client that fails with one clear line instead of a traceback."""

from __future__ import annotations

import collections
import contextlib
import functools
import logging
import re
from typing import Any

import docker
import docker.errors

from boxwright import proc
from boxwright.errors import BuildError, EngineError

__all__ = ["docker_client", "stream_build"]

log = logging.getLogger(__name__)
_RUNNING_IN = re.compile(r"---> Running in ([0-9a-f]{12,64})")


@functools.cache
def docker_client() -> docker.DockerClient:
    """Connect to the engine named by DOCKER_HOST (default: the local socket)."""
    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except docker.errors.DockerException as error:
        raise EngineError(
            "no Docker engine answers (start dockerd, or run through ./kit which starts it): "
            + str(error).splitlines()[0]
        ) from None
    return client


def stream_build(client: docker.DockerClient, what: str, *, level: int = logging.INFO,
                 **build_args: Any) -> str:
    """Run ``client.api.build(**build_args)``, logging its output (at ``level``) as it comes; the image id.

    A failing step raises :class:`BuildError` with the output's tail; Ctrl-C removes the
    step containers the engine had started (it may still be stopping them).
    """
    tail: collections.deque[str] = collections.deque(maxlen=25)
    image_id: str | None = None
    step_containers: list[str] = []
    try:
        for chunk in client.api.build(rm=True, forcerm=True, decode=True, pull=False, **build_args):
            if "stream" in chunk:
                text = chunk["stream"]
                for line in text.splitlines():
                    if line.strip():
                        log.log(level, "%s", line)
                tail.extend(line for line in text.splitlines() if line.strip())
                if match := _RUNNING_IN.search(text):
                    step_containers.append(match.group(1))
            if "error" in chunk:
                detail = proc.tail(tail, tail.maxlen or 25)
                step = chunk["error"].strip().splitlines()[0]
                raise BuildError(f"{what} failed: {step}\n{detail}")
            if "aux" in chunk and "ID" in chunk["aux"]:
                image_id = chunk["aux"]["ID"]
    except docker.errors.APIError as error:
        raise EngineError(f"the Docker engine refused {what}: {error.explanation}") from None
    except KeyboardInterrupt:
        for container_id in step_containers:
            with contextlib.suppress(docker.errors.DockerException):
                client.api.remove_container(container_id, force=True)
        raise
    if image_id is None:
        raise BuildError(f"{what} ended without an image id")
    return image_id
