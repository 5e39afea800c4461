"""The image group: sizes, build times, syslog throughput, and start/stop in each runtime shape."""

from __future__ import annotations

import shutil
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

from boxwright import paths
from boxwright.bench.containers import bench_container, wait_healthy
from boxwright.bench.record import Recorder
from boxwright.engine import docker_client
from boxwright.errors import BenchError
from boxwright.image.base import base_image, bootstrap_scratch
from boxwright.image.build import build_image
from boxwright.image.definition import load_image
from boxwright.platforms import Platform

__all__ = ["bench_image", "cold_build"]

MB = 1e6
#: The runtime shapes of README.md, "Running it": ``docker run`` options of each.
SHAPES: dict[str, dict[str, Any]] = {
    "root": {},
    "non-root": {"user": "1000:1000"},
    "read-only": {"read_only": True, "tmpfs": {"/run": "", "/tmp": ""}},
}
#: Docker's health options for the shapes figures (ns): the image's command, checked every 0.25 s.
FAST_HEALTH = {"interval": 250_000_000, "timeout": 3_000_000_000, "start_period": 0, "retries": 2}
#: The other variants of the image whose sizes go in the same table, a column each.
SIZE_VARIANTS = {"baseimage": ("baseimage-slim",)}
#: Where cold builds are tagged while they are timed.
COLD_REPOSITORY = "boxwright/bench-cold"


def bench_image(rec: Recorder, name: str = "baseimage") -> None:
    """Sizes (uncompressed and gzip, the variants' too), cold/no-op/one-file rebuild times."""
    client = docker_client()
    definition = load_image(name)
    assert definition.bootstrap is not None
    base = base_image(definition.bootstrap)
    rec.add("image", "base bootstrap (mmdebstrap + import)", name, "s",
            [bootstrap_scratch(definition.bootstrap)], note=f"{base.suite}, {definition.bootstrap.variant}")
    rec.add("image", "cold build (no cache, base reused)", name, "s", [cold_build(name)])
    rec.sample("image", "no-op rebuild", name, "s", lambda: build_image(name).seconds)
    rec.add("image", "one rootfs file changed: rebuild", name, "s", _one_file_rebuilds(rec, name))

    for label, reference in (("base", base.tag), ("image", f"boxwright/{name}:latest")):
        image = client.images.get(reference)
        rec.add("image", f"{label} size, uncompressed", name, "MB", [image.attrs["Size"] / MB])
        rec.add("image", f"{label} size, docker save + gzip", name, "MB", [_gzip_size(image) / MB])
    for variant in SIZE_VARIANTS.get(name, ()):
        image = client.images.get(build_image(variant).image_id)
        rec.add("image", "image size, uncompressed", variant, "MB", [image.attrs["Size"] / MB])
        rec.add("image", "image size, docker save + gzip", variant, "MB", [_gzip_size(image) / MB])
    _syslog_burst(rec, name, 5_000 if rec.quick else 100_000)
    _shapes(rec, name)


def _shapes(rec: Recorder, name: str) -> None:
    """Per shape: docker run until the HEALTHCHECK says healthy, then docker stop's time and code."""
    client = docker_client()
    image = build_image(name).image_id  # by id: another session may move the :latest tag meanwhile
    for variant, options in SHAPES.items():
        healthy: list[float] = []
        stops: list[float] = []
        codes: list[float] = []
        for _ in range(rec.repeat):
            started = time.monotonic()
            with bench_container(client, None, image=image, healthcheck=FAST_HEALTH,
                                 **options) as container:
                healthy.append(wait_healthy(container) - started)
                stopping = time.monotonic()
                container.stop(timeout=30)
                stops.append(time.monotonic() - stopping)
                container.reload()
                codes.append(container.attrs["State"]["ExitCode"])
        note = " ".join(f"--{k.replace('_', '-')}" for k in options) or "as built"
        rec.add("image", "start -> healthy", variant, "s", healthy, note=f"{note}; checks every 0.25 s")
        rec.add("image", "docker stop: time", variant, "s", stops)
        rec.add("image", "docker stop: exit code", variant, "code", codes)


def cold_build(name: str, platform: Platform | None = None) -> float:
    """Seconds of a no-cache build of ``name``, tagged in a throwaway repository that is removed
    after: the real tags, and the build cache later builds hit, stay those of the last real build
    (the newest cached step is the one Docker reuses, so the copy must not outlive the figure)."""
    client = docker_client()
    try:
        return build_image(name, no_cache=True, repository=COLD_REPOSITORY, platform=platform).seconds
    finally:
        for image in client.images.list(name=COLD_REPOSITORY):
            client.images.remove(str(image.id), force=True)


def _syslog_burst(rec: Recorder, name: str, lines: int) -> None:
    """`logger` a burst into a running container; count what reaches `docker logs`."""
    client = docker_client()
    with bench_container(client, None, image=f"boxwright/{name}:latest") as container:
        deadline = time.monotonic() + 30
        while container.exec_run(["sv", "check", "/etc/early_service/syslog"])[0] != 0:
            if time.monotonic() > deadline:
                raise BenchError("syslog never came up in the stock image")
            time.sleep(0.2)
        started = time.monotonic()
        code, output = container.exec_run(["sh", "-c", f"seq {lines} | logger -t boxwright-burst"])
        if code != 0:
            raise BenchError(f"logger burst failed: {output!r}")
        sent = time.monotonic() - started
        arrived, seconds = 0, 0.0
        settle = time.monotonic() + 60
        while time.monotonic() < settle:
            arrived = container.logs(stdout=True, stderr=True).count(b"boxwright-burst")
            seconds = time.monotonic() - started
            if arrived >= lines:
                break
            time.sleep(0.5)
    note = f"{lines} lines, sent in {sent:.1f} s"
    rec.add("image", "syslog burst: lines lost before docker logs", name, "lines", [lines - arrived], note)
    rec.add("image", "syslog burst: throughput to docker logs", name, "lines/s", [arrived / seconds], note)


def _gzip_size(image: object) -> int:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # gzip framing, gzip's default level
    size = 0
    for chunk in image.save(named=True):  # type: ignore[attr-defined]
        size += len(compressor.compress(chunk))
    return size + len(compressor.flush())


def _one_file_rebuilds(rec: Recorder, name: str) -> list[float]:
    """Copy the definition, change one rootfs file per sample, rebuild; the copy is removed after."""
    client = docker_client()
    paths.build_dir().mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-", dir=paths.build_dir()))
    samples = []
    try:
        shutil.copytree(paths.images_dir(), work / "images", symlinks=True)
        marker = work / "images" / name / "rootfs" / "etc" / "boxwright-bench"
        marker.parent.mkdir(parents=True, exist_ok=True)
        copy = f"{name}"
        marker.write_text("0\n")
        build_image(copy, images_dir=work / "images", repository="boxwright/bench-rebuild")
        for i in range(rec.repeat):
            marker.write_text(f"{i + 1}\n")
            samples.append(build_image(copy, images_dir=work / "images",
                                       repository="boxwright/bench-rebuild").seconds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        for image in client.images.list(name="boxwright/bench-rebuild"):
            client.images.remove(str(image.id), force=True)
    return samples
