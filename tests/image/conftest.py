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


@pytest.fixture
def arm64_container(containers: Containers, arm64_image: str) -> Callable[..., Any]:
    """``arm64_container(files=None, command=None, **create_kwargs)``: a started container of the
    linux/arm64 image (run here under QEMU user emulation; README.md, architectures)."""

    def run(files: dict[str, Any] | None = None, command: Any = None, **kwargs: Any) -> Any:
        container = containers.create(arm64_image, command, platform="linux/arm64", **kwargs)
        if files:
            container.put_archive("/", tar_of(files))
        container.start()
        return container

    return run
