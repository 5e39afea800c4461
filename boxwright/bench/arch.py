"""The arch group: linux/arm64 (QEMU user emulation on an amd64 host) beside the host's platform.

Measured side by side in one run, per platform of ``images/baseimage``: base bootstrap and
cold image build (full runs only: an emulated bootstrap takes minutes), base and image size,
my_init's RSS as PID 1 and ``docker stop`` of the stock image.  Under emulation PID 1's RSS is
the emulator's (QEMU plus its translated code), which is what such a container costs here.
"""

from __future__ import annotations

import time

import docker

from boxwright.bench.containers import bench_container, exec_ok, wait_until
from boxwright.bench.image import cold_build
from boxwright.bench.pid1 import _smaps_rollup
from boxwright.bench.record import Recorder
from boxwright.emulation import ensure_emulation
from boxwright.engine import docker_client
from boxwright.image.base import base_image, bootstrap_scratch
from boxwright.image.build import build_image
from boxwright.image.definition import load_image
from boxwright.platforms import Platform

__all__ = ["bench_arch"]

MB = 1e6
#: Waits that hold on native hardware in a second take tens of seconds emulated.
EMULATED_WAIT = 180
RUNSVDIR_UP = "grep -q runsvdir /proc/[0-9]*/cmdline 2>/dev/null && sv check /etc/service/cron >/dev/null"


def bench_arch(rec: Recorder, name: str = "baseimage") -> None:
    """linux/arm64 (emulated) beside the host's platform: bootstrap, cold build, sizes, RSS, stop."""
    client = docker_client()
    definition = load_image(name)
    assert definition.bootstrap is not None
    for target in definition.targets:
        variant = target.name + ("" if target.is_host else " (emulated)")
        ensure_emulation(target)
        if not rec.quick:
            rec.add("arch", "base bootstrap (mmdebstrap + import)", variant, "s",
                    [bootstrap_scratch(definition.bootstrap, platform=target)])
            rec.add("arch", "cold build (no cache, base reused)", variant, "s", [cold_build(name, target)])
        built = build_image(name, platform=target)  # a cache hit after the above
        base = client.images.get(base_image(definition.bootstrap, platform=target).tag)
        rec.add("arch", "base size, uncompressed", variant, "MB", [base.attrs["Size"] / MB])
        rec.add("arch", "image size, uncompressed", variant, "MB", [built.size / MB])
        _pid1(rec, client, built.image_id, target, variant)


def _pid1(rec: Recorder, client: docker.DockerClient, image: str, target: Platform, variant: str) -> None:
    rss, stops, codes = [], [], []
    for _ in range(rec.repeat):
        with bench_container(client, None, image=image, platform=target.name) as container:
            wait_until(container, RUNSVDIR_UP, timeout=EMULATED_WAIT)
            time.sleep(1.5)  # runsv's restart throttle, as in the init group
            rss.append(_smaps_rollup(exec_ok(container, ["cat", "/proc/1/smaps_rollup"]))["Rss"] / 1024)
            started = time.monotonic()
            container.stop(timeout=30)
            stops.append(time.monotonic() - started)
            codes.append(container.wait(timeout=60)["StatusCode"])
    rec.add("arch", "my_init RSS as PID 1 (stock image)", variant, "MB", rss)
    rec.add("arch", "docker stop, stock image: time", variant, "s", stops)
    rec.add("arch", "docker stop, stock image: exit code", variant, "code", codes)
