"""Fixtures for the runtime shapes (README.md, running it): containers started with files in them.

Every container carries the session label the suite-wide leak sweep looks for.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

import docker.errors
import pytest
from shape_checks import tar_of

#: The label and value tests/conftest.py sweeps (its SESSION is this pytest process's pid).
TEST_LABEL, SESSION = "io.boxwright.test", str(os.getpid())


@pytest.fixture
def shape(engine: Any, baseimage: str) -> Iterator[Callable[..., Any]]:
    """``shape(image=baseimage, files={path: (text, mode)}, **create_kwargs)``: a started container.

    ``files`` are put into the container before it starts (services, startup scripts)."""
    started: list[Any] = []

    def run(image: str | None = None, files: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        kwargs.setdefault("labels", {TEST_LABEL: SESSION})
        container = engine.containers.create(image or baseimage, **kwargs)
        started.append(container)
        if files:
            container.put_archive("/", tar_of(files))
        container.start()
        return container

    yield run
    for container in started:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)
