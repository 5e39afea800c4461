"""Docker images baked into a box: saved from the local engine at build time, loaded at first boot.

A box that carries its images runs containers offline (no registry).  The
tarballs go to ``/var/lib/boxwright/preload/`` in the rootfs;
``boxwright-preload-images.service`` loads and deletes them once Docker is up.
"""

from __future__ import annotations

import re
from pathlib import Path

import docker
import docker.errors
import docker.models.images

from boxwright.engine import docker_client
from boxwright.errors import BuildError, EngineError

__all__ = ["PRELOAD_DIR", "image_ids", "preload_file_name", "save_images"]

#: Where the tarballs sit inside the box until the first boot loads them.
PRELOAD_DIR = "var/lib/boxwright/preload"


def preload_file_name(reference: str) -> str:
    """``boxwright/baseimage:1.0`` -> ``boxwright_baseimage_1.0.tar``."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", reference) + ".tar"


def image_ids(references: tuple[str, ...]) -> dict[str, str]:
    """Each image's id in the local engine (what a rebuild must match to reuse the rootfs)."""
    if not references:
        return {}
    client = docker_client()
    ids = {}
    for reference in references:
        ids[reference] = str(_local_image(client, reference).id)
    return ids


def save_images(references: tuple[str, ...], rootfs: Path) -> int:
    """``docker save`` each image into ``rootfs/PRELOAD_DIR``; return the bytes written."""
    if not references:
        return 0
    client = docker_client()
    target = rootfs / PRELOAD_DIR
    target.mkdir(parents=True, exist_ok=True)
    total = 0
    for reference in references:
        image = _local_image(client, reference)
        path = target / preload_file_name(reference)
        with path.open("wb") as handle:
            for chunk in image.save(named=True):
                handle.write(chunk)
        total += path.stat().st_size
    return total


def _local_image(client: docker.DockerClient, reference: str) -> docker.models.images.Image:
    """The image ``reference`` names in the local engine; one line when it is not there."""
    try:
        return client.images.get(reference)
    except docker.errors.ImageNotFound:
        raise BuildError(
            f"preload image {reference!r} is not in the Docker engine: build or load it first"
        ) from None
    except docker.errors.APIError as error:
        raise EngineError(f"cannot read image {reference!r}: {error.explanation}") from None
