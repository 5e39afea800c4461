"""Box fixtures: definitions are folders under tests/fixtures/boxes/ (or written to tmp_path)."""

from __future__ import annotations

from collections.abc import Callable
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
