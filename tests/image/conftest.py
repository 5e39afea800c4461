"""Fixtures for the image suites: containers of the built image started with files in them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from support.containers import Containers
from support.tar import tar_of


@pytest.fixture
def shape(containers: Containers, baseimage: str) -> Callable[..., Any]:
    """``shape(image=baseimage, files={path: (text, mode)}, **create_kwargs)``: a started container.

    ``files`` are put into the container before it starts (services, startup scripts)."""

    def run(image: str | None = None, files: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        container = containers.create(image or baseimage, **kwargs)
        if files:
            container.put_archive("/", tar_of(files))
        container.start()
        return container

    return run
