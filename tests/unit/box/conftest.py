"""Box definition fixtures: folders under tests/fixtures/boxes/, or written to tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from boxwright.box.definition import BoxDefinition, load_box
from support import FIXTURES

BOX_FIXTURES = FIXTURES / "boxes"
GOLDEN = FIXTURES / "golden" / "box"


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


@pytest.fixture
def tiny(box_fixtures: Path) -> BoxDefinition:
    """The tiny fixture box (tests/fixtures/boxes/tiny/)."""
    return load_box("tiny", box_fixtures)
