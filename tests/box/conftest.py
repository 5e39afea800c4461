"""Box build fixtures: the image the tiny fixture box preloads."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from support.tar import tar_of

#: The image the tiny fixture box preloads (see tests/fixtures/boxes/tiny/box.toml).
PRELOAD_IMAGE = "boxwright-test/preload:1"


@pytest.fixture(scope="session")
def preload_image() -> Iterator[str]:
    """A one-file image built FROM scratch (no registry), removed after the session."""
    from boxwright.engine import docker_client

    client = docker_client()
    context = io.BytesIO(tar_of({"Dockerfile": "FROM scratch\nCOPY hello.txt /\n",
                                  "hello.txt": "preloaded by boxwright\n"}))
    client.images.build(fileobj=context, custom_context=True, tag=PRELOAD_IMAGE, rm=True)
    yield PRELOAD_IMAGE
    client.images.remove(PRELOAD_IMAGE, force=True)
