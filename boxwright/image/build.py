"""Render an image definition into a build context and build it with the Docker SDK."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from boxwright import paths
from boxwright.atomic import atomic_dir, remove_stale_temporaries
from boxwright.engine import docker_client, stream_build
from boxwright.errors import BoxwrightError, BuildError
from boxwright.image.base import HASH_LABEL, base_image, ensure_base, human_size
from boxwright.image.definition import HEALTH_TOOL, ImageDefinition, load_image
from boxwright.image.sbom import attach_sbom
from boxwright.image.services import render_service_files, service_plan
from boxwright.platforms import Platform, host_platform, platform
from boxwright.proc import is_dry
from boxwright.provenance import INPUT_LABEL, input_hash, oci_labels, source_date_epoch, tree_hash
from boxwright.render import TEMPLATES_DIR, copy_tree, render_template

__all__ = [
    "BuildResult", "arch_tag", "build_all", "build_image", "image_repository", "render_context",
    "render_image",
]


log = logging.getLogger(__name__)


def contexts_dir() -> Path:
    """Where rendered build contexts go: ``build/images/``."""
    return paths.build_dir() / "images"


@dataclass(frozen=True)
class BuildResult:
    """What a build produced: tags, image id, size, how long it took, for which platform."""

    tags: tuple[str, ...]
    image_id: str
    size: int
    seconds: float
    platform: Platform = field(default_factory=host_platform)


def image_repository(name: str) -> str:
    return f"boxwright/{name}"


def arch_tag(version: str, target: Platform) -> str:
    """The per-architecture tag (``0.1.0-arm64``); ``<version>`` and ``latest`` are the host's."""
    return f"{version}-{target.debian}"


def render_context(
    definition: ImageDefinition, templates_dir: Path = TEMPLATES_DIR, target: Platform | None = None
) -> dict[str, Any]:
    """Everything ``Dockerfile.j2`` may use, derived from the definition and the platform alone."""
    if definition.bootstrap is not None:
        base_ref = base_image(definition.bootstrap, templates_dir, platform=target).tag
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
    platform: Platform | None = None,
) -> Path:
    """Write the complete build context (Dockerfile + rootfs/) atomically; return its path.

    The default place is ``<build>/images/<name>/`` for the host's platform and
    ``<build>/images/<name>-<arch>/`` for another one (their Dockerfiles differ in the base)."""
    platform = platform or host_platform()
    suffix = "" if platform.is_host else f"-{platform.debian}"
    target = out_dir or contexts_dir() / f"{definition.name}{suffix}"
    if is_dry():
        log.info("would render %s into %s (Dockerfile, rootfs/)", definition.path, target)
        return target
    remove_stale_temporaries(target.parent)
    context = render_context(definition, templates_dir, platform)
    dockerfile = render_template("Dockerfile.j2", context, templates_dir)
    mtime = source_date_epoch()
    with atomic_dir(target) as tmp:
        copy_tree(definition.rootfs, tmp / "rootfs", mtime, merged_usr=True)
        render_service_files(definition, tmp / "rootfs", mtime)
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
    platform: Platform | None = None,
) -> BuildResult:
    """Ensure the base, render, build and tag one platform of ``images/<name>/``.

    The host's platform is tagged ``boxwright/<name>:<version>``, ``:latest`` and
    ``:<version>-<arch>``; another platform only ``:<version>-<arch>`` (built under
    QEMU user emulation).  ``repository`` tags elsewhere (benchmarks build copies
    without touching the real tags).
    """
    started = time.monotonic()
    target = platform or host_platform()
    definition = load_image(name, images_dir)
    client = None if is_dry() else docker_client()
    if definition.bootstrap is not None:
        base = ensure_base(definition.bootstrap, platform=target)
        base_labels = {HASH_LABEL: base.digest}
    else:
        base_labels = {}
    suffix = "" if target.is_host else f"-{target.debian}"
    context_dir = contexts_dir() / ((repository.replace("/", "_") if repository else name) + suffix)
    repository = repository or image_repository(name)
    context = render_image(definition, context_dir, platform=target)
    per_arch = f"{repository}:{arch_tag(definition.version, target)}"
    if target.is_host:
        tags: tuple[str, ...] = (f"{repository}:{definition.version}", f"{repository}:latest", per_arch)
    else:
        tags = (per_arch,)
    if client is None:
        log.info("would build %s with the Docker engine from %s, add its SBOM layer and tag %s",
                 tags[0], context, ", ".join(tags[1:]))
        return BuildResult(tags, "", 0, 0.0, target)
    inputs = {**definition.labels, **base_labels}
    inputs[INPUT_LABEL] = input_hash({"context": tree_hash(context), "labels": inputs})
    labels = oci_labels(name, definition.version, inputs)
    image_id = stream_build(client, f"docker build of {tags[0]}", platform=target.name,
                            path=str(context), tag=tags[0], labels=labels, nocache=no_cache)
    # The SBOM goes on before any test runs: the tested image is the published one.
    image_id = attach_sbom(client, image_id, repository, definition.version, tags[0], platform=target)
    image = client.images.get(image_id)
    for tag in tags[1:]:
        image.tag(tag)
    result = BuildResult(tags, str(image.id), image.attrs["Size"], time.monotonic() - started, target)
    log.info("built %s: %s in %.1f s", ", ".join(tags), human_size(result.size), result.seconds)
    return result



def build_all(
    name: str, *, platforms: list[str] | None = None, **options: Any
) -> list[BuildResult]:
    """Build every platform of the definition (or those named); keep going, then list the failures.

    A platform the definition does not list is refused before any work."""
    definition = load_image(name, options.get("images_dir"))
    if platforms:
        targets = [platform(p) for p in platforms]
        for target in targets:
            if target.name not in definition.platforms:
                raise BuildError(
                    f"{definition.path}: platforms: {target.name} is not listed "
                    f"(listed: {', '.join(definition.platforms)})"
                )
    else:
        targets = list(definition.targets)
    results, failures = [], []
    for target in targets:
        try:
            results.append(build_image(name, platform=target, **options))
        except BoxwrightError as error:
            if len(targets) == 1:
                raise
            failures.append(f"  {target.name}: {str(error).splitlines()[0]}")
            log.error("%s: %s", target.name, error)
    if failures:
        built = ", ".join(r.platform.name for r in results) or "none"
        raise BuildError(f"{name}: {len(failures)} of {len(targets)} platform(s) failed "
                         f"(built: {built}):\n" + "\n".join(failures))
    return results
