"""Box fixtures: definitions are folders under tests/fixtures/boxes/ (or written to tmp_path)."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

BOX_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "boxes"
GOLDEN = Path(__file__).resolve().parent.parent / "fixtures" / "golden" / "box"


@pytest.fixture
def write_box(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write ``boxes/<name>/box.toml`` under tmp_path; return the boxes dir."""

    def write(text: str, name: str = "sample") -> Path:
        directory = tmp_path / "boxes" / name
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "box.toml").write_text(text)
        return tmp_path / "boxes"

    return write


@pytest.fixture
def box_fixtures() -> Path:
    return BOX_FIXTURES


@pytest.fixture
def golden() -> Path:
    return GOLDEN


#: The image the tiny fixture box preloads (see tests/fixtures/boxes/tiny/box.toml).
PRELOAD_IMAGE = "boxwright-test/preload:1"


@pytest.fixture(scope="session")
def preload_image() -> Iterator[str]:
    """A one-file image built FROM scratch (no registry), removed after the session."""
    from boxwright.engine import docker_client

    client = docker_client()
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in {"Dockerfile": b"FROM scratch\nCOPY hello.txt /\n",
                           "hello.txt": b"preloaded by boxwright\n"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    client.images.build(fileobj=context, custom_context=True, tag=PRELOAD_IMAGE, rm=True)
    yield PRELOAD_IMAGE
    client.images.remove(PRELOAD_IMAGE, force=True)
