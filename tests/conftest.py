"""Shared fixtures (the Docker engine, the built image, labelled containers) and the suite's markers.

Each slow suite is a folder whose name is its marker (``-m image``, ``-m "not vm"``): see
:data:`FOLDER_MARKERS`. tests/unit/ and the repository checks at the top carry none.

The image fixtures always (re)build through boxwright itself: a no-op build is
a cache hit that takes about a second, and tests never run against a stale image.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import docker.models.containers
import pytest
import testinfra

from boxwright.emulation import ensure_emulation
from boxwright.engine import docker_client
from boxwright.errors import EngineError
from boxwright.image.build import BuildResult, build_image
from boxwright.image.definition import ImageDefinition, load_image
from boxwright.platforms import PLATFORMS
from support.containers import SESSION, TEST_LABEL, Containers
from support.image import image_under_test

#: Fixtures from tests/support/ every suite may use (tests/ is on sys.path as pytest's rootdir conftest).
pytest_plugins = ["support.s3"]

FIXTURES = Path(__file__).parent / "fixtures"
TESTS = Path(__file__).parent
#: Images this session tested are tagged ``<this>-<session>:<name>-<n>`` until it ends.
HELD_REPOSITORY = "boxwright-test/session"
#: The slow suites: tests/<folder>/ gets the marker of that name (declared in pyproject.toml).
FOLDER_MARKERS = (
    "image", "init", "services", "derived", "orchestrators", "box", "vm", "pipeline", "bench",
)


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of a slow suite with its folder's name."""
    for item in items:
        with contextlib.suppress(ValueError):
            folder = item.path.relative_to(TESTS).parts[0]
            if folder in FOLDER_MARKERS:
                item.add_marker(folder)
        if "arm64_image" in getattr(item, "fixturenames", ()):
            item.add_marker("arm64")
ARM64 = PLATFORMS["linux/arm64"]


@pytest.fixture(scope="session")
def engine() -> docker.DockerClient:
    return docker_client()


@pytest.fixture(scope="session")
def built_images() -> dict[str, BuildResult]:
    """Images built in this session, by definition name."""
    return {}


@pytest.fixture(scope="session")
def hold_image(engine: docker.DockerClient) -> Iterator[Callable[[str, str], str]]:
    """``hold_image(image_id, name)``: tag the image for this session, untag it at the end.

    Other sessions rebuild ``boxwright/<name>`` and move its tags; a test that then removes the
    last tag left on this session's image (a registry tag after a push) would delete it under
    the remaining tests. The session's own tag keeps it until the session ends."""
    held: list[str] = []

    def hold(image_id: str, name: str) -> str:
        tag = f"{name}-{len(held)}"
        engine.images.get(image_id).tag(f"{HELD_REPOSITORY}-{SESSION}", tag)
        held.append(f"{HELD_REPOSITORY}-{SESSION}:{tag}")
        return image_id

    yield hold
    for reference in held:
        with contextlib.suppress(docker.errors.APIError):
            engine.images.remove(reference)


@pytest.fixture(scope="session")
def image_builder(
    built_images: dict[str, BuildResult], hold_image: Callable[[str, str], str],
) -> Callable[[str], str]:
    """Build an image definition once per session; return its image id.

    The id, not ``:latest``: another session (a CI run, a second checkout) may move the tag
    while this one runs, and a test must check the image this session built."""

    def build(name: str) -> str:
        if name not in built_images:
            built_images[name] = build_image(name)
            hold_image(built_images[name].image_id, name)
        return built_images[name].image_id

    return build


@pytest.fixture(scope="session")
def image_definition() -> ImageDefinition:
    """The definition the image tests check: baseimage, or the one ``./kit ci`` names."""
    return load_image(image_under_test()[0])


@pytest.fixture(scope="session")
def baseimage(image_builder: Callable[[str], str], hold_image: Callable[[str, str], str]) -> str:
    """The image under test: built from its definition (a cache hit when nothing changed),
    or under ``./kit ci`` the exact image it built and will publish (README.md, CI pipeline section)."""
    name, image_id = image_under_test()
    return hold_image(image_id, name) if image_id else image_builder(name)


@pytest.fixture(scope="session")
def arm64_image(built_images: dict[str, BuildResult], hold_image: Callable[[str, str], str]) -> str:
    """The id of the linux/arm64 image of the definition under test (built under QEMU emulation;
    README.md, architectures)."""
    name, _ = image_under_test()
    if ARM64.name not in load_image(name).platforms:
        pytest.skip(f"{name} does not list {ARM64.name} in its platforms")
    given = image_under_test(ARM64)[1]
    if given:
        return hold_image(given, f"{name}-arm64")
    ensure_emulation(ARM64)
    key = f"{name}@{ARM64.name}"
    if key not in built_images:
        built_images[key] = build_image(name, platform=ARM64)
        hold_image(built_images[key].image_id, f"{name}-arm64")
    return built_images[key].image_id


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
def containers(engine: docker.DockerClient) -> Iterator[Containers]:
    """``containers.run(image, cmd, **kw)`` / ``.create(...)``: labelled, removed after the test."""
    made = Containers(engine)
    yield made
    made.remove_all()


@pytest.fixture(scope="module")
def module_containers(engine: docker.DockerClient) -> Iterator[Containers]:
    """:func:`containers` for module-scoped fixtures (one container shared by a file's tests)."""
    made = Containers(engine)
    yield made
    made.remove_all()


@pytest.fixture(scope="session")
def image_id(engine: docker.DockerClient, baseimage: str) -> str:
    """The built image by id: others may move ``boxwright/baseimage:latest`` while these tests run."""
    return str(engine.images.get(baseimage).id)


@pytest.fixture
def host_of() -> Callable[[Any], Any]:
    """A testinfra host for a running container."""

    def host(container: docker.models.containers.Container) -> Any:
        return testinfra.get_host(f"docker://{container.id}")

    return host
