"""A Docker engine client that fails with one clear line instead of a traceback."""

from __future__ import annotations

import functools

import docker
import docker.errors

from boxwright.errors import EngineError

__all__ = ["docker_client", "image_exists"]


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


def image_exists(reference: str) -> bool:
    """True when the engine has an image called ``reference``."""
    try:
        docker_client().images.get(reference)
    except docker.errors.ImageNotFound:
        return False
    return True
