"""Lint is part of the suite: ruff and mypy for Python, shellcheck for shell, hadolint for Dockerfiles."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from boxwright.image.build import render_image
from boxwright.image.definition import image_names, load_image

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SKIP_DIRS = {".git", ".venv", "build", "dist", ".kit", "node_modules", ".pytest_cache", ".ruff_cache",
             ".mypy_cache"}


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)


def shell_scripts() -> list[Path]:
    """Every tracked-looking file whose first line names sh or bash."""
    found = []
    for path in sorted(ROOT.rglob("*")):
        if SKIP_DIRS & set(path.relative_to(ROOT).parts) or not path.is_file() or path.is_symlink():
            continue
        if path.suffix in {".sh"} or path.name in {"run", "finish", "check"} or path.suffix == "":
            try:
                first = path.open("rb").readline()
            except OSError:
                continue
            if first.startswith(b"#!") and (b"sh" in first.split(b"/")[-1]) and b"python" not in first:
                found.append(path)
    return found


def test_ruff():
    result = run([str(BIN / "ruff"), "check", "."])
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy():
    """The package and tasks.py type-check strictly ([tool.mypy] in pyproject.toml)."""
    result = run([str(BIN / "mypy")])
    assert result.returncode == 0, result.stdout + result.stderr


def test_there_are_shell_scripts_to_check():
    names = {p.name for p in shell_scripts()}
    assert {"kit", "run", "slimify.sh"} <= names


@pytest.mark.parametrize("script", shell_scripts(), ids=lambda p: str(p.relative_to(ROOT)))
def test_shellcheck(script):
    result = run([str(BIN / "shellcheck"), "--severity=style", str(script)])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", image_names())
def test_hadolint_rendered_dockerfile(tmp_path, name):
    context = render_image(load_image(name), tmp_path / name)
    result = run([str(BIN / "hadolint"), "--config", str(ROOT / ".hadolint.yaml"),
                  str(context / "Dockerfile")])
    assert result.returncode == 0, result.stdout + result.stderr
