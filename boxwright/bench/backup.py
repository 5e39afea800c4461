"""The backup group, and the container the backup tests and it share.

:func:`backup_container` runs an image with the backup service (README.md, backups) against a
real S3 server on 127.0.0.1: with the host's network (its 127.0.0.1 is the host's, where weed
listens, and no other address is ever a target), its secrets as files bind-mounted read-only
at /run/secrets, only the target and the endpoint (not secret) in its environment.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker.errors

from boxwright import paths
from boxwright.bench.containers import BENCH_LABEL
from boxwright.bench.record import Recorder
from boxwright.bench.servers import S3Server, start_s3_server
from boxwright.engine import docker_client
from boxwright.errors import BenchError
from boxwright.image.build import build_image

__all__ = ["BackupContainer", "backup_container", "bench_backup", "volume_sizes"]

MB = 1e6
#: Where the group's images are tagged while it runs (removed when it ends).
REPOSITORY = "boxwright/bench-backup"
#: What the group's definitions add to the image they extend: the service on, and off.
VARIANTS = {
    "backup-on": '[services.backup]\nenabled = true\npaths = ["/data"]\n',
    "backup-off": "[services.backup]\nenabled = false\n",
}


@dataclass
class BackupContainer:
    """A running container of a backup image, its secrets (name -> value) and its target URL."""

    container: Any
    secrets: dict[str, str]
    target: str

    @property
    def bucket(self) -> str:
        return self.target.split("/")[2]

    @property
    def prefix(self) -> str:
        """The key prefix of its objects in the bucket (``path/``)."""
        return self.target.split("/", 3)[3] + "/"

    def sh(self, script: str, env: dict[str, str] | None = None, check: bool = True) -> tuple[int, str]:
        """Run ``script`` with bash in the container: (exit code, output); ``check``: non-zero raises."""
        code, out = self.container.exec_run(["bash", "-c", script], environment=env or {}, demux=False)
        text = out.decode(errors="replace")
        if check and code != 0:
            raise BenchError(f"{script!r} exited {code}:\n{text[-3000:]}")
        return code, text


@contextlib.contextmanager
def backup_container(client: Any, image: str, server: S3Server, folder: Path, path: str,
                     labels: dict[str, str]) -> Iterator[BackupContainer]:
    """A started container of ``image`` backing up to a new bucket of ``server`` (under ``path``);
    its secrets are written to ``folder``. Removed when the context ends."""
    bucket = "backup-" + secrets.token_hex(4)
    server.client().create_bucket(Bucket=bucket)
    values = {
        "backup_passphrase": "pass " + secrets.token_urlsafe(24),
        "aws_access_key_id": server.access_key,
        "aws_secret_access_key": server.secret_key,
    }
    for name, value in values.items():
        (folder / name).touch(mode=0o600)
        (folder / name).write_text(value + "\n")
    container = client.containers.create(
        image, network_mode="host", labels=labels,
        environment={"BACKUP_TARGET": f"s3://{bucket}/{path}", "BACKUP_S3_ENDPOINT": server.endpoint},
        volumes={str(folder): {"bind": "/run/secrets", "mode": "ro"}},
    )
    try:
        container.start()
        deadline = time.monotonic() + 60
        while b"started runsvdir -P /etc/service" not in container.logs():
            if time.monotonic() > deadline:
                logs = container.logs().decode(errors="replace")[-2000:]
                raise BenchError(f"my_init did not start runsvdir in 60 s:\n{logs}")
            time.sleep(0.2)
        yield BackupContainer(container, values, f"s3://{bucket}/{path}")
    finally:
        container.remove(force=True)


def volume_sizes(server: S3Server, box: BackupContainer) -> dict[str, int]:
    """The bytes of each set's volumes in the box's bucket.

    ``{"full.<time>": n, "inc.<from>.to.<to>": n}``: duplicity's names of the sets."""
    sizes: dict[str, int] = {}
    for name, size in _objects(server, box):
        found = re.fullmatch(r"duplicity-((?:full|inc)\.[^/]*?)\.vol\d+\.difftar\.gpg", name)
        if found:
            sizes[found[1]] = sizes.get(found[1], 0) + size
    return sizes


def _bucket_bytes(server: S3Server, box: BackupContainer) -> int:
    return sum(size for _, size in _objects(server, box))


def _objects(server: S3Server, box: BackupContainer) -> Iterator[tuple[str, int]]:
    """(name under the box's prefix, bytes) of each of its objects in the bucket."""
    pages = server.client().get_paginator("list_objects_v2").paginate(Bucket=box.bucket, Prefix=box.prefix)
    for page in pages:
        for item in page.get("Contents", []):
            yield item["Key"][len(box.prefix):], item["Size"]


def bench_backup(rec: Recorder, name: str = "baseimage") -> None:
    """Backup service: full backup and restore of 100 MB, incremental after 1 %, size on/off."""
    client = docker_client()
    size_mb = 10 if rec.quick else 100
    work = Path(tempfile.mkdtemp(prefix="boxwright-bench-backup-"))
    try:
        images = work / "images"
        shutil.copytree(paths.images_dir(), images, symlinks=True)
        built: dict[str, str] = {}
        for variant, table in VARIANTS.items():
            (images / f"{name}-{variant}").mkdir()
            (images / f"{name}-{variant}" / "image.toml").write_text(f'extends = "{name}"\n\n{table}')
            built[variant] = build_image(f"{name}-{variant}", images_dir=images,
                                         repository=REPOSITORY).image_id
        base_size = client.images.get(build_image(name).image_id).attrs["Size"]
        for variant, image in built.items():
            rec.add("backup", "image size over the image without it", variant, "MB",
                    [(client.images.get(image).attrs["Size"] - base_size) / MB], note=f"vs {name}")
        (work / "s3").mkdir()
        (work / "secrets").mkdir(mode=0o700)
        samples: dict[tuple[str, str], list[float]] = {}
        with start_s3_server(work / "s3") as server:
            for _ in range(rec.repeat):
                with backup_container(client, built["backup-on"], server, work / "secrets", "bench",
                                      labels={BENCH_LABEL: "1"}) as box:
                    for key, value in _one_round(server, box, size_mb).items():
                        samples.setdefault(key, []).append(value)
        for (figure, unit), values in samples.items():
            rec.add("backup", figure, f"{size_mb} MB", unit, values, note=NOTES.get(figure) or "")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        for leftover in client.images.list(name=REPOSITORY):
            with contextlib.suppress(docker.errors.DockerException):
                client.images.remove(str(leftover.id), force=True)


NOTES = {
    "full backup: time": "random data, GPG-encrypted, to SeaweedFS on 127.0.0.1",
    "incremental after 1 % changed: bytes": "all its objects: volume, manifest, signatures",
}


def _one_round(server: S3Server, box: BackupContainer, size_mb: int) -> dict[tuple[str, str], float]:
    """Full backup of ``size_mb`` MB of random data, restore it, change 1 %, incremental backup."""
    figures: dict[tuple[str, str], float] = {}
    box.sh(f"mkdir -p /data && head -c {size_mb * 1_000_000} /dev/urandom > /data/big.bin")
    started = time.monotonic()
    box.sh("backup now")
    figures["full backup: time", "s"] = time.monotonic() - started
    figures["full backup: bytes uploaded", "MB"] = _bucket_bytes(server, box) / MB
    started = time.monotonic()
    box.sh("backup restore /restore/full")
    figures["restore: time", "s"] = time.monotonic() - started
    if box.sh("cmp /data/big.bin /restore/full/data/big.bin", check=False)[0] != 0:
        raise BenchError("the restored file differs from the one backed up")
    box.sh(f"dd if=/dev/urandom of=/data/big.bin bs={size_mb * 10_000} count=1 seek=37 conv=notrunc"
           " status=none")
    before = _bucket_bytes(server, box)
    started = time.monotonic()
    box.sh("backup now")
    figures["incremental after 1 % changed: time", "s"] = time.monotonic() - started
    sets = volume_sizes(server, box)
    if not any(key.startswith("inc.") for key in sets):
        raise BenchError(f"the second backup was not an incremental one: {sorted(sets)}")
    figures["incremental after 1 % changed: bytes", "MB"] = (_bucket_bytes(server, box) - before) / MB
    return figures
