"""Render Jinja2 templates strictly and deterministically.

``StrictUndefined`` turns an unknown variable into an error naming the
template and the line; rendered trees get fixed mtimes so the same inputs
give byte-identical outputs (and Docker's build cache stays warm).
"""

from __future__ import annotations

import functools
import os
import shutil
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from boxwright import PROJECT_ROOT
from boxwright.errors import RenderError

__all__ = ["TEMPLATES_DIR", "copy_tree", "render_template"]

TEMPLATES_DIR = PROJECT_ROOT / "templates"


@functools.cache
def _environment(templates_dir: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def render_template(
    name: str, context: Mapping[str, Any], templates_dir: Path = TEMPLATES_DIR
) -> str:
    """Render ``templates_dir/name``; any template problem is a one-line RenderError."""
    try:
        return _environment(templates_dir).get_template(name).render(**context)
    except jinja2.TemplateNotFound as error:
        raise RenderError(f"{templates_dir / name}: template not found ({error.name})") from None
    except jinja2.TemplateSyntaxError as error:
        where = error.filename or str(templates_dir / name)
        raise RenderError(f"{where}:{error.lineno}: {error.message}") from None
    except jinja2.UndefinedError as error:
        raise RenderError(f"{_template_location(error, templates_dir / name)}: {error}") from None


def _template_location(error: BaseException, fallback: Path) -> str:
    """The innermost template frame of the traceback: ``file:line``."""
    location = str(fallback)
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename.startswith(str(fallback.parent)) and not frame.filename.endswith(".py"):
            location = f"{frame.filename}:{frame.lineno}"
    return location


#: Debian is merged-/usr: /sbin is a symlink to usr/sbin.  A real sbin/ in a
#: build context would replace that symlink with a directory (Docker's COPY
#: does), leaving an unmerged system apt refuses to work with.
MERGED_USR = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


def copy_tree(
    sources: tuple[Path, ...] | list[Path], target: Path, mtime: int, *, merged_usr: bool = False
) -> None:
    """Copy each source tree over ``target`` in order (later layers win).

    Modes are kept; owners are not (files go in as root); every mtime is
    set to ``mtime`` so a copy is byte-for-byte and metadata-identical.
    With ``merged_usr``, top-level ``sbin/`` etc. land in ``usr/sbin/``.
    """
    target.mkdir(parents=True, exist_ok=True)
    for source in sources:
        shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
    if merged_usr:
        for name in MERGED_USR:
            if (target / name).is_dir() and not (target / name).is_symlink():
                shutil.copytree(target / name, target / "usr" / name, symlinks=True,
                                dirs_exist_ok=True)
                shutil.rmtree(target / name)
    for path in sorted(target.rglob("*"), reverse=True):
        os.utime(path, (mtime, mtime), follow_symlinks=False)
    os.utime(target, (mtime, mtime))
