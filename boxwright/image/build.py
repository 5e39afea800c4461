"""Render an image definition into a build context and build it with the Docker SDK."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boxwright import paths
from boxwright.atomic import atomic_dir, remove_stale_temporaries
from boxwright.engine import docker_client, stream_build
from boxwright.image.base import HASH_LABEL, base_image, ensure_base, human_size
from boxwright.image.definition import HEALTH_TOOL, ImageDefinition, load_image
from boxwright.image.sbom import attach_sbom
from boxwright.image.services import service_plan
from boxwright.proc import is_dry
from boxwright.provenance import INPUT_LABEL, input_hash, oci_labels, source_date_epoch, tree_hash
from boxwright.render import TEMPLATES_DIR, copy_tree, render_template

__all__ = ["BuildResult", "build_image", "image_repository", "render_context", "render_image"]


log = logging.getLogger(__name__)


def contexts_dir() -> Path:
    """Where rendered build contexts go: ``build/images/``."""
    return paths.build_dir() / "images"


@dataclass(frozen=True)
class BuildResult:
    """What a build produced: tags, image id, size and how long it took."""

    tags: tuple[str, ...]
    image_id: str
    size: int
    seconds: float


def image_repository(name: str) -> str:
    return f"boxwright/{name}"


def render_context(definition: ImageDefinition, templates_dir: Path = TEMPLATES_DIR) -> dict[str, Any]:
    """Everything ``Dockerfile.j2`` may use, derived from the definition alone."""
    if definition.bootstrap is not None:
        base_ref = base_image(definition.bootstrap, templates_dir).tag
    else:
        base_ref = definition.from_image or ""
    services = service_plan(definition)
    packages = sorted(definition.packages)
    return {
        "definition": definition.path.relative_to(definition.path.parents[2]).as_posix(),
        "base": base_ref,
        "packages": packages + [p for p in services["packages"] if p not in packages],
        "local_packages": [p.name for p in definition.local_packages],
        "services": services,
        "env": dict(sorted(definition.env.items())),
        "directories": dict(definition.directories),
        "command": list(definition.command),
        "healthcheck": definition.healthcheck,
        "healthcheck_enabled": definition.healthcheck_enabled,
        "health_tool": HEALTH_TOOL,
    }


def render_image(
    definition: ImageDefinition,
    out_dir: Path | None = None,
    templates_dir: Path = TEMPLATES_DIR,
) -> Path:
    """Write the complete build context (Dockerfile + rootfs/) atomically; return its path."""
    target = out_dir or contexts_dir() / definition.name
    if is_dry():
        log.info("would render %s into %s (Dockerfile, rootfs/)", definition.path, target)
        return target
    remove_stale_temporaries(target.parent)
    dockerfile = render_template("Dockerfile.j2", render_context(definition, templates_dir), templates_dir)
    mtime = source_date_epoch()
    with atomic_dir(target) as tmp:
        copy_tree(definition.rootfs, tmp / "rootfs", mtime, merged_usr=True)
        for package in definition.local_packages:
            copy_tree([package], tmp / "local-packages" / package.name, mtime)
        (tmp / "Dockerfile").write_text(dockerfile)
        (tmp / ".dockerignore").write_text("# the context is exactly what boxwright rendered\n")
        for path in (tmp / "Dockerfile", tmp / ".dockerignore", tmp):
            os.utime(path, (mtime, mtime))
    return target


def build_image(
    name: str,
    *,
    no_cache: bool = False,
    images_dir: Path | None = None,
    repository: str | None = None,
) -> BuildResult:
    """Ensure the base, render, build and tag ``boxwright/<name>:<version>`` and ``:latest``.

    ``repository`` tags elsewhere (benchmarks build copies without touching the real tags).
    """
    started = time.monotonic()
    definition = load_image(name, images_dir)
    client = None if is_dry() else docker_client()
    if definition.bootstrap is not None:
        base = ensure_base(definition.bootstrap)
        base_labels = {HASH_LABEL: base.digest}
    else:
        base_labels = {}
    context_dir = contexts_dir() / (repository.replace("/", "_") if repository else name)
    repository = repository or image_repository(name)
    context = render_image(definition, context_dir)
    tags = (f"{repository}:{definition.version}", f"{repository}:latest")
    if client is None:
        log.info("would build %s with the Docker engine from %s, add its SBOM layer and tag %s",
                 tags[0], context, ", ".join(tags[1:]))
        return BuildResult(tags, "", 0, 0.0)
    inputs = {**definition.labels, **base_labels}
    inputs[INPUT_LABEL] = input_hash({"context": tree_hash(context), "labels": inputs})
    labels = oci_labels(name, definition.version, inputs)
    image_id = stream_build(client, f"docker build of {tags[0]}",
                            path=str(context), tag=tags[0], labels=labels, nocache=no_cache)
    # The SBOM goes on before any test runs: the tested image is the published one.
    image_id = attach_sbom(client, image_id, repository, definition.version, tags[0])
    image = client.images.get(image_id)
    for tag in tags[1:]:
        image.tag(tag)
    result = BuildResult(tags, str(image.id), image.attrs["Size"], time.monotonic() - started)
    log.info("built %s: %s in %.1f s", ", ".join(tags), human_size(result.size), result.seconds)
    return result

