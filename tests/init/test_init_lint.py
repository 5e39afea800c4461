"""ruff only finds *.py files by itself: check the extensionless /sbin/my_init explicitly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

RUFF = Path(sys.executable).parent / "ruff"
ROOT = Path(__file__).resolve().parents[2]


def ruff(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([RUFF, *map(str, args)], cwd=ROOT, capture_output=True, text=True)


def test_my_init_passes_ruff(my_init_program):
    result = ruff("check", my_init_program)
    assert result.returncode == 0, result.stdout + result.stderr


def test_my_init_is_ruff_formatted(my_init_program):
    result = ruff("format", "--check", my_init_program)
    assert result.returncode == 0, result.stdout + result.stderr


def test_my_init_is_an_executable_python3_program(my_init_program):
    assert my_init_program.stat().st_mode & 0o777 == 0o755
    assert my_init_program.read_text().startswith("#!/usr/bin/python3\n")
