"""Every location boxwright reads or writes comes from paths.py and follows its environment override."""

from __future__ import annotations

import pytest

from boxwright import PROJECT_ROOT, paths
from boxwright.box.boot import work_dir
from boxwright.box.build import dist_boxes, work_boxes
from boxwright.box.definition import box_names
from boxwright.image.build import contexts_dir
from boxwright.image.definition import image_names
from boxwright.pipeline.ci import reports_dir


def test_defaults_are_under_the_checkout(monkeypatch):
    for variable, _ in paths.ENV.values():
        monkeypatch.delenv(variable, raising=False)
    assert paths.images_dir() == PROJECT_ROOT / "images"
    assert paths.boxes_dir() == PROJECT_ROOT / "boxes"
    assert paths.build_dir() == PROJECT_ROOT / "build"
    assert paths.dist_dir() == PROJECT_ROOT / "dist"
    assert paths.results_dir() == PROJECT_ROOT / "bench" / "results"


@pytest.mark.parametrize("kind", sorted(paths.ENV))
def test_each_location_has_an_override(kind, tmp_path, monkeypatch):
    variable, _ = paths.ENV[kind]
    monkeypatch.setenv(variable, str(tmp_path / kind))
    assert getattr(paths, f"{kind}_dir")() == tmp_path / kind


def test_modules_take_their_paths_from_there(tmp_path, monkeypatch):
    monkeypatch.setenv("BOXWRIGHT_BUILD_DIR", str(tmp_path / "b"))
    monkeypatch.setenv("BOXWRIGHT_DIST_DIR", str(tmp_path / "d"))
    assert contexts_dir() == tmp_path / "b" / "images"
    monkeypatch.setenv("BOXWRIGHT_CACHE_DIR", str(tmp_path / "c"))
    assert work_boxes() == tmp_path / "c" / "boxes"
    assert work_dir() == tmp_path / "b" / "test-box"
    assert reports_dir() == tmp_path / "b" / "ci"
    assert dist_boxes() == tmp_path / "d" / "boxes"


def test_definitions_follow_their_override(tmp_path, monkeypatch):
    (tmp_path / "images" / "mine").mkdir(parents=True)
    (tmp_path / "images" / "mine" / "image.toml").write_text('version = "1.0.0"\n')
    (tmp_path / "boxes" / "tiny").mkdir(parents=True)
    (tmp_path / "boxes" / "tiny" / "box.toml").write_text("")
    monkeypatch.setenv("BOXWRIGHT_IMAGES_DIR", str(tmp_path / "images"))
    monkeypatch.setenv("BOXWRIGHT_BOXES_DIR", str(tmp_path / "boxes"))
    assert image_names() == ["mine"]
    assert box_names() == ["tiny"]


def test_the_cache_is_the_machines(tmp_path, monkeypatch):
    monkeypatch.delenv("BOXWRIGHT_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert paths.cache_dir() == tmp_path / "xdg" / "boxwright"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert paths.cache_dir() == tmp_path / "home" / ".cache" / "boxwright"
