"""Every container a test starts goes through :class:`Containers`: labelled, tracked, removed.

The label carries this pytest session's id, so the leak sweep in tests/conftest.py finds what a
crashed test left and never touches the containers of a concurrent (or enclosing ``ci``) session.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import docker
import docker.errors
import docker.models.containers

__all__ = ["SESSION", "TEST_LABEL", "Containers", "run_in"]

#: Every container a test starts carries this label, so a crash can't leak one.
TEST_LABEL = "io.boxwright.test"
#: This pytest session's value of the label: concurrent sessions never sweep each other's containers.
SESSION = str(os.getpid())

Container = docker.models.containers.Container


class Containers:
    """``run`` and ``create`` like the Docker SDK's, with the session label; ``remove_all`` at teardown."""

    def __init__(self, engine: docker.DockerClient):
        self.engine = engine
        self.started: list[Container] = []

    @staticmethod
    def _labelled(kwargs: dict[str, Any]) -> dict[str, Any]:
        return {**kwargs, "labels": {**kwargs.get("labels", {}), TEST_LABEL: SESSION}}

    def run(self, image: str, command: Any = None, **kwargs: Any) -> Any:
        """``containers.run``: a Container when detached, else the output (``remove=True`` cleans up)."""
        result = self.engine.containers.run(image, command, **self._labelled(kwargs))
        if isinstance(result, Container):
            self.started.append(result)
        return result

    def create(self, image: str, command: Any = None, **kwargs: Any) -> Container:
        container = self.engine.containers.create(image, command, **self._labelled(kwargs))
        self.started.append(container)
        return container

    def remove_all(self) -> None:
        for container in self.started:
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)
        self.started.clear()


def run_in(container: Any, command: str, user: str = "") -> tuple[int, str]:
    """``sh -c command`` in a running container: (exit code, stdout and stderr)."""
    code, output = container.exec_run(["sh", "-c", command], user=user)
    return code, output.decode("utf-8", "replace")
