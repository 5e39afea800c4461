"""Rendering: golden output, byte-identical reruns, strict variables, atomic writes."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from boxwright.errors import RenderError
from boxwright.image.build import render_image
from boxwright.image.definition import load_image
from boxwright.platforms import PLATFORMS
from boxwright.render import TEMPLATES_DIR, render_template
from support import FIXTURES


def tree_digest(root: Path) -> str:
    """Hash of every path, mode, mtime and content under ``root``."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        digest.update(f"{path.relative_to(root)} {st.st_mode:o} {int(st.st_mtime)}\n".encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture
def minimal():
    return load_image("minimal", FIXTURES / "images")


def test_dockerfile_matches_golden(tmp_path, minimal, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    out = render_image(minimal, tmp_path / "ctx", platform=PLATFORMS["linux/amd64"])  # on any host
    golden = FIXTURES / "golden" / "minimal.Dockerfile"
    if os.environ.get("BOXWRIGHT_UPDATE_GOLDEN"):
        golden.write_text((out / "Dockerfile").read_text())
    assert (out / "Dockerfile").read_text() == golden.read_text()


def test_context_holds_rootfs_with_merged_usr(tmp_path, minimal):
    out = render_image(minimal, tmp_path / "ctx")
    assert (out / "rootfs/etc/minimal.txt").read_text() == "fixture file\n"
    assert not (out / "rootfs/sbin").exists(), "a real sbin/ would unmerge /usr in the image"
    tool = out / "rootfs/usr/sbin/fixture-tool"
    assert tool.stat().st_mode & 0o111, "modes are kept"


def test_rerender_is_byte_identical(tmp_path, minimal, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    first = tree_digest(render_image(minimal, tmp_path / "a"))
    second = tree_digest(render_image(minimal, tmp_path / "b"))
    third = tree_digest(render_image(minimal, tmp_path / "a"))
    assert first == second == third


def test_child_rootfs_layers_win(tmp_path):
    child = load_image("child", FIXTURES / "images")
    out = render_image(child, tmp_path / "ctx")
    assert (out / "rootfs/etc/minimal.txt").read_text() == "child wins\n"
    assert (out / "rootfs/usr/sbin/fixture-tool").exists()
    assert "FROM boxwright/debian:bookworm-" in (out / "Dockerfile").read_text()


def test_unknown_variable_names_template_and_line(tmp_path):
    (tmp_path / "t.j2").write_text("line one\n{{ known }}\n{{ unknown_thing }}\n")
    with pytest.raises(RenderError) as caught:
        render_template("t.j2", {"known": 1}, tmp_path)
    message = str(caught.value)
    assert f"{tmp_path / 't.j2'}:3" in message
    assert "unknown_thing" in message
    assert "\n" not in message


def test_syntax_error_names_template_and_line(tmp_path):
    (tmp_path / "t.j2").write_text("ok\n{% if %}\n")
    with pytest.raises(RenderError, match=r"t\.j2:2: "):
        render_template("t.j2", {}, tmp_path)


def test_failed_render_leaves_previous_output(tmp_path, minimal, monkeypatch):
    out = render_image(minimal, tmp_path / "ctx")
    before = tree_digest(out)
    broken = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, broken)
    (broken / "Dockerfile.j2").write_text("FROM {{ no_such_variable }}\n")
    with pytest.raises(RenderError):
        render_image(minimal, out, templates_dir=broken)
    assert tree_digest(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ctx", "templates"], "no temporaries left"
