"""The hermetic base image: a slim Debian rootfs from mmdebstrap, loaded with ``docker import``.

No registry is needed.  The base is tagged ``boxwright/debian:<suite>-<hash>``
(and ``boxwright/debian:<suite>``) and carries the hash of its inputs as a label,
so it is rebuilt only when the suite, mirror, packages or slimming change.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import docker.models.images

from boxwright import paths
from boxwright.debian import common_argv
from boxwright.engine import docker_client
from boxwright.image.definition import Bootstrap
from boxwright.proc import is_dry, require, run
from boxwright.provenance import input_hash, source_date_epoch
from boxwright.render import TEMPLATES_DIR

__all__ = ["BASE_REPOSITORY", "HASH_LABEL", "BaseImage", "base_image", "ensure_base", "human_size"]

BASE_REPOSITORY = "boxwright/debian"
HASH_LABEL = "io.boxwright.base.input-hash"
#: Bump when the recipe below changes in a way the inputs do not show.
RECIPE_VERSION = 2
_SLIM_FILES = ("dpkg-slim.cfg", "apt-container.conf", "slimify.sh")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BaseImage:
    """What the base of a definition is called and what it was made from."""

    suite: str
    digest: str  # the input hash

    @property
    def tag(self) -> str:
        return f"{BASE_REPOSITORY}:{self.suite}-{self.digest[:12]}"

    @property
    def suite_tag(self) -> str:
        return f"{BASE_REPOSITORY}:{self.suite}"


def base_image(bootstrap: Bootstrap, templates_dir: Path = TEMPLATES_DIR) -> BaseImage:
    """Name the base for ``bootstrap`` without touching Docker (a pure function of inputs)."""
    inputs = {
        "recipe": RECIPE_VERSION,
        "suite": bootstrap.suite,
        "mirror": bootstrap.mirror,
        "variant": bootstrap.variant,
        "packages": sorted(bootstrap.packages),
        "slim": {name: (templates_dir / "base" / name).read_text() for name in _SLIM_FILES},
        "source_date_epoch": os.environ.get("SOURCE_DATE_EPOCH"),
    }
    return BaseImage(bootstrap.suite, input_hash(inputs))


def mmdebstrap_argv(bootstrap: Bootstrap, output: Path, templates_dir: Path = TEMPLATES_DIR) -> list[str]:
    """The mmdebstrap command that writes the base rootfs as a tarball to ``output``."""
    argv = common_argv(bootstrap.suite, bootstrap.variant, templates_dir)
    argv.append(f"--aptopt={templates_dir / 'base' / 'apt-container.conf'}")
    if bootstrap.packages:
        argv.append("--include=" + ",".join(sorted(bootstrap.packages)))
    argv += [bootstrap.suite, str(output), bootstrap.mirror]
    return argv


def human_size(size: float) -> str:
    """Bytes as the MB figures Docker users read (decimal, like `docker images`)."""
    return f"{size / 1e6:.1f} MB"


def ensure_base(bootstrap: Bootstrap, *, rebuild: bool = False) -> BaseImage:
    """Make sure the base for ``bootstrap`` exists, bootstrapping it only if its inputs changed."""
    base = base_image(bootstrap)
    if is_dry():
        log.info("base %s: reused if the engine has it, else bootstrapped and imported:", base.tag)
        run(mmdebstrap_argv(bootstrap, paths.build_dir() / "base" / "rootfs.tar"),
            env={"SOURCE_DATE_EPOCH": str(source_date_epoch())})
        return base
    client = docker_client()
    existing = _existing_base(client, base)
    if existing is not None and not rebuild:
        existing.tag(base.suite_tag)
        log.info("base %s is up to date (%s)", base.tag, human_size(existing.attrs["Size"]))
        return base
    require("mmdebstrap")
    work = paths.build_dir() / "base"
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bootstrap-", dir=work) as tmp:
        tarball = Path(tmp) / "rootfs.tar"
        argv = mmdebstrap_argv(bootstrap, tarball)
        log.info("bootstrapping %s from %s: %s", bootstrap.suite, bootstrap.mirror, " ".join(argv))
        run(argv, env={"SOURCE_DATE_EPOCH": str(source_date_epoch())}, merge=True, what="mmdebstrap")
        changes = [
            f"LABEL {HASH_LABEL}={base.digest}",
            f"LABEL io.boxwright.base.suite={bootstrap.suite}",
            'CMD ["/bin/bash"]',
        ]
        client.api.import_image(
            src=str(tarball), repository=BASE_REPOSITORY, tag=base.tag.split(":", 1)[1], changes=changes
        )
    image = client.images.get(base.tag)
    image.tag(base.suite_tag)
    _remove_superseded(client, base)
    log.info("base %s: %s in %.1f s", base.tag, human_size(image.attrs["Size"]), time.monotonic() - started)
    return base


def _existing_base(client: docker.DockerClient, base: BaseImage) -> docker.models.images.Image | None:
    """The base image under its tag, if its input-hash label still matches."""
    try:
        image = client.images.get(base.tag)
    except docker.errors.ImageNotFound:
        return None
    return image if image.labels.get(HASH_LABEL) == base.digest else None


def _remove_superseded(client: docker.DockerClient, base: BaseImage) -> None:
    """Drop older bases of the same suite (other input hashes) that nothing else tags."""
    for image in client.images.list(name=BASE_REPOSITORY):
        tags = [t for t in image.tags if t.startswith(f"{base.suite_tag}-")]
        if tags and base.tag not in image.tags and len(image.tags) == len(tags):
            # Still used by a container or a derived image: then keep it.
            with contextlib.suppress(docker.errors.APIError):
                client.images.remove(str(image.id))
