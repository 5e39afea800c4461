"""Build a Dockerfile written for a published base FROM the exact image under test instead."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import docker.errors

__all__ = ["build_from"]


def build_from(
    engine: Any, context: Path, base: str, scratch: Path, files: dict[str, bytes] | None = None
) -> str:
    """Copy ``context`` to ``scratch``, point its ``FROM`` lines at ``base`` (an image id, never a
    shared tag another session may move), add ``files``, build; return the image id."""
    shutil.copytree(context, scratch)
    dockerfile = scratch / "Dockerfile"
    lines = dockerfile.read_text().splitlines(keepends=True)
    dockerfile.write_text("".join(f"FROM {base}\n" if line.startswith("FROM ") else line for line in lines))
    for name, data in (files or {}).items():
        (scratch / name).write_bytes(data)
    try:
        image, _ = engine.images.build(path=str(scratch), pull=False, rm=True, forcerm=True)
    except docker.errors.BuildError as error:
        log = "".join(str(chunk.get("stream", chunk.get("error", ""))) for chunk in error.build_log)
        raise AssertionError(f"{context.name}/Dockerfile does not build:\n{log[-3000:]}") from None
    return str(image.id)
