"""The image under Podman (rootful): copied from the Docker engine into Podman's store, run with limits
this host allows.

* :func:`podman_config` writes the ``containers.conf`` every podman call here reads (through
  ``CONTAINERS_CONF``): the ``runc`` runtime (Debian's ``podman`` takes ``crun`` when installed) and
  file/process limits lowered to what an unprivileged sandbox grants.  Rootful podman 4.3 otherwise
  asks the runtime for ``nofile``/``nproc`` limits above the hard ones of a host without
  CAP_SYS_RESOURCE, and runc fails the start with ``error setting rlimit type 7: operation not
  permitted``.
* :func:`load_from_docker` moves an image the Docker engine built into Podman's store: ``docker
  save`` (the SDK) into a temporary archive, ``podman load``, tagged under a name of the caller's.
  The image keeps its id (the config digest), so ``podman`` and ``docker`` agree on it.
* :func:`podman` runs one podman command through :mod:`boxwright.proc` with that configuration.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from boxwright import proc
from boxwright.engine import docker_client
from boxwright.errors import EngineError

__all__ = ["CONFIG", "load_from_docker", "podman", "podman_config"]

log = logging.getLogger(__name__)

#: What ``containers.conf`` says: the runtime, and limits any host grants (the defaults ask for
#: nofile=1048576 and nproc=4194304; lowering a limit needs no privilege, raising one does).
CONFIG = """\
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]

[engine]
runtime = "runc"
"""


def podman_config(directory: Path) -> Path:
    """Write :data:`CONFIG` to ``directory/containers.conf``; return its path."""
    path = directory / "containers.conf"
    path.write_text(CONFIG)
    return path


def podman(args: list[str], config: Path, *, check: bool = True, timeout: float | None = 120,
           what: str | None = None) -> proc.Result:
    """``podman ARGS`` with ``config`` as its only containers.conf (stderr kept apart)."""
    return proc.run(["podman", *args], env={"CONTAINERS_CONF": str(config)}, check=check,
                    timeout=timeout, what=what or f"podman {args[0]}", error=EngineError)


def load_from_docker(image: str, tag: str, config: Path) -> str:
    """Copy ``image`` (an id or reference in the Docker engine) into Podman as ``tag``; its id."""
    source = docker_client().images.get(image)
    with tempfile.TemporaryDirectory(prefix="boxwright-podman-") as tmp:
        archive = Path(tmp) / "image.tar"
        with archive.open("wb") as out:
            for chunk in source.save(named=False):
                out.write(chunk)
        podman(["load", "--quiet", "--input", str(archive)], config, timeout=600)
    image_id = str(source.id).removeprefix("sha256:")
    podman(["tag", image_id, tag], config)
    log.info("podman: loaded %s as %s", image_id[:12], tag)
    return image_id
