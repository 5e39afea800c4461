"""Fixtures for the orchestrator suites: the image under rootful Podman, a single-node Swarm."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from boxwright.image.podman import load_from_docker, podman, podman_config
from support.containers import SESSION
from support.podman import Podman

#: Podman's name for the image under test while this session runs (removed at the end).
PODMAN_TAG = f"localhost/boxwright-test-{SESSION}/baseimage:podman"


@pytest.fixture(scope="session")
def podman_image(tmp_path_factory: pytest.TempPathFactory, image_id: str) -> Iterator[Podman]:
    """The image under test in Podman's store (``docker save | podman load``), and a runner."""
    config = podman_config(tmp_path_factory.mktemp("podman"))
    load_from_docker(image_id, PODMAN_TAG, config)
    runner = Podman(config, PODMAN_TAG)
    try:
        yield runner
    finally:
        runner.remove_all()
        podman(["rmi", PODMAN_TAG], config, check=False)


@pytest.fixture
def pod(podman_image: Podman) -> Iterator[Podman]:
    """:func:`podman_image`, with this test's containers and pods removed after it."""
    try:
        yield podman_image
    finally:
        podman_image.remove_all()
