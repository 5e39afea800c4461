"""Fixtures for the bundled services: containers of the base image and of its variants.

Variants are real definitions extending images/baseimage (tests/fixtures/service-images/).
Helpers the tests import live in tests/support/ (runit.py, tar.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from boxwright.image.build import BuildResult, build_image
from support.containers import Containers
from support.runit import wait_for_log
from support.tar import tar_of

VARIANTS = Path(__file__).parents[1] / "fixtures" / "service-images"


@pytest.fixture(scope="session")
def variant_image(
    built_images: dict[str, BuildResult], hold_image: Callable[[str, str], str],
) -> Callable[[str], str]:
    """Build a variant from tests/fixtures/service-images/ once per session; return its image id
    (not its tag: another session may move that)."""

    def build(name: str) -> str:
        key = f"service-images/{name}"
        if key not in built_images:
            built_images[key] = build_image(name, images_dir=VARIANTS)
            hold_image(built_images[key].image_id, name)
        return built_images[key].image_id

    return build


@pytest.fixture
def start(containers: Containers, baseimage: str) -> Callable[..., Any]:
    """``start(image=baseimage, files={path: (text, mode)}, **run_kwargs)``: a running container.

    ``files`` are put into the container before it starts (my_init.d scripts, crontabs, ...);
    ``(path, "=target")`` makes a hard link. Waits until my_init has started runsvdir.
    """

    def run(image: str | None = None, files: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        container = containers.create(image or baseimage, **kwargs)
        if files:
            container.put_archive("/", tar_of(files))
        container.start()
        wait_for_log(container, "started runsvdir -P /etc/service")
        return container

    return run
