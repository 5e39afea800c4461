"""Shared fixtures: the Docker engine, the built image, throw-away containers.

The image fixtures always (re)build through boxwright itself: a no-op build is
a cache hit that takes about a second, and tests never run against a stale image.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import docker.models.containers
import pytest
import testinfra

from boxwright.engine import docker_client
from boxwright.errors import EngineError
from boxwright.image.build import BuildResult, build_image
from boxwright.image.definition import ImageDefinition, load_image
from boxwright.pipeline.ci import image_under_test

#: Fixtures from tests/support/ every suite may use (tests/ is on sys.path as pytest's rootdir conftest).
pytest_plugins = ["support.s3"]

FIXTURES = Path(__file__).parent / "fixtures"
#: Every container a test starts carries this label, so a crash can't leak one.
TEST_LABEL = "io.boxwright.test"
#: This pytest session's value of the label: concurrent sessions never sweep each other's containers.
SESSION = str(os.getpid())


@pytest.fixture(scope="session")
def engine() -> docker.DockerClient:
    return docker_client()


@pytest.fixture(scope="session")
def built_images() -> dict[str, BuildResult]:
    """Images built in this session, by definition name."""
    return {}


@pytest.fixture(scope="session")
def image_builder(built_images: dict[str, BuildResult]) -> Callable[[str], str]:
    """Build an image definition once per session; return its image id.

    The id, not ``:latest``: another session (a CI run, a second checkout) may move the tag
    while this one runs, and a test must check the image this session built."""

    def build(name: str) -> str:
        if name not in built_images:
            built_images[name] = build_image(name, echo=False)
        return built_images[name].image_id

    return build


@pytest.fixture(scope="session")
def image_definition() -> ImageDefinition:
    """The definition the image tests check: baseimage, or the one ``./kit ci`` names."""
    return load_image(image_under_test()[0])


@pytest.fixture(scope="session")
def baseimage(image_builder: Callable[[str], str]) -> str:
    """The image under test: built from its definition (a cache hit when nothing changed),
    or under ``./kit ci`` the exact image it built and will publish (README.md, CI pipeline section)."""
    name, image_id = image_under_test()
    return image_id or image_builder(name)


@pytest.fixture(scope="session", autouse=True)
def _no_leaked_containers() -> Iterator[None]:
    """Remove labelled containers this session left (not those of an enclosing ``ci`` session)."""

    def labelled() -> list[docker.models.containers.Container]:
        with contextlib.suppress(docker.errors.DockerException, EngineError):
            return docker_client().containers.list(
                all=True, filters={"label": f"{TEST_LABEL}={SESSION}"})
        return []

    before = {c.id for c in labelled()}
    yield
    with contextlib.suppress(docker.errors.DockerException):
        for container in labelled():
            if container.id not in before:
                container.remove(force=True)


@pytest.fixture
def run_container(engine: docker.DockerClient) -> Iterator[Callable[..., Any]]:
    """Start a detached container (removed after the test): ``run_container(image, cmd, **kw)``."""
    started: list[docker.models.containers.Container] = []

    def run(image: str, command: Any = None, **kwargs: Any) -> docker.models.containers.Container:
        kwargs.setdefault("detach", True)
        kwargs.setdefault("labels", {TEST_LABEL: SESSION})
        container = engine.containers.run(image, command, **kwargs)
        started.append(container)
        return container

    yield run
    for container in started:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)


@pytest.fixture
def host_of() -> Callable[[Any], Any]:
    """A testinfra host for a running container."""

    def host(container: docker.models.containers.Container) -> Any:
        return testinfra.get_host(f"docker://{container.id}")

    return host
