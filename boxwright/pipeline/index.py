"""One OCI image index (multi-arch manifest list) per tag, assembled with buildah.

Why buildah (README.md, architectures): Docker 20.10's embedded BuildKit cannot build
multi-platform with the docker driver, and ``docker manifest`` is an experimental CLI
command that writes Docker manifest lists only (no OCI index) from images already pushed.
skopeo copies images but cannot create a list.  buildah (``manifest create/add/push``,
the same code podman uses, maintained with containers/image) writes a real
``application/vnd.oci.image.index.v1+json`` and, with ``--all --format oci``, pushes
every member as an OCI image manifest too.  It runs with a throw-away storage under
``build/`` (vfs driver), so nothing is left in /var/lib/containers.

Credentials go to buildah in an ``--authfile`` (mode 0600, removed afterwards), never argv.
"""

from __future__ import annotations

import base64
import json
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

from boxwright import PROJECT_ROOT
from boxwright.errors import PublishError
from boxwright.proc import is_dry, require, run

__all__ = ["INDEX_MEDIA_TYPE", "buildah_argv", "push_index"]

log = logging.getLogger(__name__)

INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
_LIST = "boxwright-index"


def buildah_argv(storage: Path, *args: str) -> list[str]:
    """buildah with its own storage under ``storage`` (vfs: works anywhere, leaves no mounts)."""
    return ["buildah", f"--root={storage / 'root'}", f"--runroot={storage / 'run'}",
            "--storage-driver=vfs", *args]


def push_index(
    members: Sequence[str], targets: Sequence[str], *, plain_http: bool,
    auth: dict[str, str] | None = None, registry: str = "",
) -> str:
    """Make one index of the pushed images ``members`` (``HOST/REPO:TAG`` each) and push it as
    every reference in ``targets``; return the index digest (the same for every target)."""
    require("buildah")
    work = PROJECT_ROOT / "build"
    work.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="buildah-", dir=work) as tmp:
        storage = Path(tmp)
        transport = [f"--tls-verify={'false' if plain_http else 'true'}"]
        if auth:
            authfile = storage / "auth.json"
            authfile.touch(mode=0o600)
            token = base64.b64encode(f"{auth['username']}:{auth['password']}".encode()).decode()
            authfile.write_text(json.dumps({"auths": {registry: {"auth": token}}}))
            transport.append(f"--authfile={authfile}")
        _run(buildah_argv(storage, "manifest", "create", _LIST), "buildah manifest create")
        for member in members:
            _run(buildah_argv(storage, "manifest", "add", *transport, _LIST, f"docker://{member}"),
                 f"adding {member} to the index")
        digests = set()
        for target in targets:
            digest_file = storage / "digest"
            _run(buildah_argv(storage, "manifest", "push", "--all", "--format=oci", *transport,
                              f"--digestfile={digest_file}", _LIST, f"docker://{target}"),
                 f"pushing the index {target}")
            if is_dry():
                continue
            digests.add(digest_file.read_text().strip())
            log.info("pushed index %s %s", target, digest_file.read_text().strip())
        if is_dry():
            return ""
        if len(digests) != 1:
            raise PublishError(f"the index was stored under different digests: {sorted(digests)}")
        return digests.pop()


def _run(argv: list[str], what: str) -> None:
    """One buildah step; a refusal is one line (buildah's last line names the cause)."""
    log.info("%s", " ".join(argv))
    result = run(argv, check=False, merge=True)
    if not result.ok:
        lines = [line for line in result.output.splitlines() if line.strip()]
        raise PublishError(f"{what} failed: {lines[-1] if lines else result.describe()}")
