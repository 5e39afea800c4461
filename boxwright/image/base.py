"""The hermetic base image: a slim Debian rootfs from mmdebstrap, one per architecture.

No registry is needed.  The base is tagged ``boxwright/debian:<suite>-<arch>-<hash>``
(and ``boxwright/debian:<suite>-<arch>``) and carries the hash of its inputs as a label,
so it is rebuilt only when the suite, architecture, mirror, packages or slimming change.

The rootfs tarball is loaded with ``docker load`` as a one-layer image whose config
names its architecture: ``docker import --platform`` is ignored by Docker 20.10 (the
image would say amd64 and ``docker run --platform linux/arm64`` would try to pull).
A foreign architecture is bootstrapped under QEMU user emulation (:mod:`boxwright.emulation`).
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import io
import json
import logging
import os
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import docker.models.images

from boxwright import paths
from boxwright.debian import common_argv
from boxwright.emulation import ensure_emulation
from boxwright.engine import docker_client
from boxwright.errors import EngineError
from boxwright.image.definition import Bootstrap
from boxwright.platforms import Platform, host_platform
from boxwright.proc import is_dry, require, run
from boxwright.provenance import input_hash, source_date_epoch
from boxwright.render import TEMPLATES_DIR

__all__ = [
    "BASE_REPOSITORY", "HASH_LABEL", "BaseImage", "base_image", "bootstrap_dirs", "bootstrap_scratch",
    "ensure_base", "human_size", "image_config",
]

BASE_REPOSITORY = "boxwright/debian"
HASH_LABEL = "io.boxwright.base.input-hash"
#: Bump when the recipe below changes in a way the inputs do not show.
RECIPE_VERSION = 3
_SLIM_FILES = ("dpkg-slim.cfg", "apt-container.conf", "slimify.sh")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BaseImage:
    """What the base of a definition is called and what it was made from."""

    suite: str
    digest: str  # the input hash
    platform: Platform

    @property
    def tag(self) -> str:
        return f"{self.suite_tag}-{self.digest[:12]}"

    @property
    def suite_tag(self) -> str:
        return f"{BASE_REPOSITORY}:{self.suite}-{self.platform.debian}"


def base_image(
    bootstrap: Bootstrap, templates_dir: Path = TEMPLATES_DIR, platform: Platform | None = None
) -> BaseImage:
    """Name the base for ``bootstrap`` on ``platform`` (default: the host's) without touching Docker."""
    platform = platform or host_platform()
    inputs = {
        "recipe": RECIPE_VERSION,
        "arch": platform.debian,
        "suite": bootstrap.suite,
        "mirror": bootstrap.mirror,
        "variant": bootstrap.variant,
        "packages": sorted(bootstrap.packages),
        "slim": {name: (templates_dir / "base" / name).read_text() for name in _SLIM_FILES},
        "source_date_epoch": os.environ.get("SOURCE_DATE_EPOCH"),
    }
    return BaseImage(bootstrap.suite, input_hash(inputs), platform)


def mmdebstrap_argv(
    bootstrap: Bootstrap, output: Path, templates_dir: Path = TEMPLATES_DIR, platform: Platform | None = None
) -> list[str]:
    """The mmdebstrap command that writes the base rootfs of ``platform`` as a tarball to ``output``."""
    platform = platform or host_platform()
    argv = common_argv(bootstrap.suite, bootstrap.variant, templates_dir, arch=platform.debian)
    argv.append(f"--aptopt={templates_dir / 'base' / 'apt-container.conf'}")
    if bootstrap.packages:
        argv.append("--include=" + ",".join(sorted(bootstrap.packages)))
    argv += [bootstrap.suite, str(output), bootstrap.mirror]
    return argv


def human_size(size: float) -> str:
    """Bytes as the MB figures Docker users read (decimal, like `docker images`)."""
    return f"{size / 1e6:.1f} MB"


def image_config(platform: Platform, diff_id: str, labels: dict[str, str], created: int) -> dict[str, object]:
    """The image config of a one-layer base: what ``docker load`` reads its platform from."""
    when = datetime.datetime.fromtimestamp(created, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "architecture": platform.architecture,
        "os": platform.os,
        "created": when,
        "config": {"Cmd": ["/bin/bash"], "Labels": dict(sorted(labels.items()))},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": when, "created_by": "boxwright: mmdebstrap (README.md, base image)"}],
    }


def ensure_base(bootstrap: Bootstrap, *, platform: Platform | None = None) -> BaseImage:
    """Make sure the base for ``bootstrap`` on ``platform`` exists, bootstrapping it only if its inputs
    changed.  A foreign platform needs QEMU user emulation (:func:`ensure_emulation`)."""
    base = base_image(bootstrap, platform=platform)
    if is_dry():
        log.info("base %s: reused if the engine has it, else bootstrapped and loaded:", base.tag)
        run(mmdebstrap_argv(bootstrap, paths.build_dir() / "base" / "rootfs.tar", platform=base.platform),
            env={"SOURCE_DATE_EPOCH": str(source_date_epoch())})
        return base
    client = docker_client()
    existing = _existing_base(client, base)
    if existing is not None:
        existing.tag(base.suite_tag)
        log.info("base %s is up to date (%s)", base.tag, human_size(existing.attrs["Size"]))
        return base
    started = time.monotonic()
    image = _bootstrap(client, bootstrap, base, base.tag)
    image.tag(base.suite_tag)
    _remove_superseded(client, base)
    log.info("base %s: %s in %.1f s", base.tag, human_size(image.attrs["Size"]), time.monotonic() - started)
    return base


def bootstrap_scratch(bootstrap: Bootstrap, *, platform: Platform | None = None) -> float:
    """Bootstrap and load the base afresh under a throwaway tag, then drop that tag; the seconds it
    took.  Benchmarks time a bootstrap this way: the real base, and the build cache of every image
    on it, stay as they are."""
    base = base_image(bootstrap, platform=platform)
    client = docker_client()
    scratch = f"{BASE_REPOSITORY}-scratch:{base.tag.rpartition(':')[2]}"
    started = time.monotonic()
    try:
        _bootstrap(client, bootstrap, base, scratch)
        return time.monotonic() - started
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):
            client.images.remove(scratch)


_BOOTSTRAP_PREFIX = "bootstrap-"


def bootstrap_dirs() -> set[Path]:
    """The temporary directories of the bootstraps running now (or of one that left its own behind)."""
    return set(_bootstrap_work().glob(f"{_BOOTSTRAP_PREFIX}*"))


def _bootstrap_work() -> Path:
    return paths.build_dir() / "base"


def _bootstrap(
    client: docker.DockerClient, bootstrap: Bootstrap, base: BaseImage, tag: str
) -> docker.models.images.Image:
    """Run mmdebstrap for ``base`` in a temporary directory and ``docker load`` the result as ``tag``."""
    require("mmdebstrap")
    ensure_emulation(base.platform)
    work = _bootstrap_work()
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=_BOOTSTRAP_PREFIX, dir=work) as tmp:
        tarball = Path(tmp) / "rootfs.tar"
        argv = mmdebstrap_argv(bootstrap, tarball, platform=base.platform)
        log.info("bootstrapping %s (%s) from %s: %s", bootstrap.suite, base.platform.name, bootstrap.mirror,
                 " ".join(argv))
        epoch = source_date_epoch()
        run(argv, env={"SOURCE_DATE_EPOCH": str(epoch)}, merge=True, what="mmdebstrap")
        labels = {HASH_LABEL: base.digest, "io.boxwright.base.suite": bootstrap.suite}
        _load(client, tarball, tag, image_config(base.platform, _diff_id(tarball), labels, epoch))
    return client.images.get(tag)


def _diff_id(tarball: Path) -> str:
    digest = hashlib.sha256()
    with tarball.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


def _load(client: docker.DockerClient, layer: Path, tag: str, config: dict[str, object]) -> None:
    """``docker load`` an archive (docker save format) of ``layer`` + ``config``, tagged ``tag``."""
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_name = f"{hashlib.sha256(config_bytes).hexdigest()}.json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [tag], "Layers": ["layer.tar"]}]).encode()
    archive_path = layer.with_name("image.tar")
    with tarfile.open(archive_path, "w") as archive:
        for name, data in ((config_name, config_bytes), ("manifest.json", manifest)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        archive.add(layer, arcname="layer.tar")
    try:
        with archive_path.open("rb") as handle:
            client.images.load(handle)
    except docker.errors.APIError as error:
        raise EngineError(f"docker load of {tag} failed: {error.explanation}") from None


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
