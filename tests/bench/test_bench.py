"""`invoke bench --quick` runs inside the suite so the benchmark code never rots.

It reports numbers and asserts none of them: only that every variant ran and
the results file holds every sample.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from boxwright.bench import run_bench
from boxwright.bench.pid1 import VARIANTS
from boxwright.image.build import build_image


def quick_run(only: str) -> Iterator[dict[str, Any]]:
    """The results of `bench --quick --only ONLY`; their file is removed afterwards."""
    path = run_bench(quick=True, only=only)
    yield json.loads(path.read_text())
    path.unlink()


@pytest.fixture(scope="module")
def results(baseimage):
    yield from quick_run("init,image")


def test_results_record_revision_and_samples(results):
    assert results["quick"] is True
    assert len(results["revision"]) == 40
    assert results["metrics"]
    for metric in results["metrics"]:
        assert metric["n"] == len(metric["samples"])


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_init_variant_was_measured(results, variant):
    figures = {m["name"] for m in results["metrics"] if m["variant"] == variant and m["samples"]}
    assert "PID-1 RSS (with a main command)" in figures
    assert "docker stop, idle main command: exit code" in figures


def test_the_bench_leaves_the_image_and_its_build_cache_alone(results, baseimage, image_definition, engine):
    """Its cold build and bootstrap are timed on throwaway tags: a rebuild still hits the cache of
    the last real build (the newest cached step is the one Docker reuses), and they are gone."""
    assert build_image(image_definition.name).image_id == baseimage
    assert not engine.images.list(name="boxwright/bench-cold")
    assert not engine.images.list(name="boxwright/debian-scratch")


def test_image_group_sizes(results):
    names = {m["name"] for m in results["metrics"] if m["group"] == "image"}
    assert {"image size, uncompressed", "base size, uncompressed", "no-op rebuild",
            "syslog burst: lines lost before docker logs"} <= names


@pytest.fixture(scope="module")
def arch_results(baseimage, arm64_image):
    yield from quick_run("arch")


@pytest.mark.parametrize("variant", ["linux/amd64", "linux/arm64 (emulated)"])
def test_the_arch_group_measures_both_platforms(arch_results, variant):
    figures = {m["name"] for m in arch_results["metrics"] if m["variant"] == variant and m["samples"]}
    assert {"image size, uncompressed", "my_init RSS as PID 1 (stock image)",
            "docker stop, stock image: exit code"} <= figures


@pytest.mark.parametrize("shape", ["root", "non-root", "read-only"])
def test_image_group_starts_and_stops_each_shape(results, shape):
    figures = {m["name"]: m for m in results["metrics"] if m["group"] == "image" and m["variant"] == shape}
    assert {"start -> healthy", "docker stop: time", "docker stop: exit code"} <= set(figures)
    assert figures["docker stop: exit code"]["samples"] == [0]


@pytest.fixture(scope="module")
def swarm_results(baseimage):
    yield from quick_run("swarm")


def test_the_swarm_group_times_a_rolling_update_and_counts_failed_requests(swarm_results):
    figures = {m["name"]: m for m in swarm_results["metrics"] if m["group"] == "swarm"}
    assert set(figures) == {"rolling update of 3 replicas: total",
                            "rolling update: failed requests (target 0)"}
    assert all(m["n"] == 1 and m["variant"] == "start-first" for m in figures.values())


@pytest.fixture(scope="module")
def backup_results(baseimage):
    yield from quick_run("backup")


def test_the_backup_group_measures_full_restore_incremental_and_size(backup_results, engine):
    figures = {(m["name"], m["variant"]): m for m in backup_results["metrics"] if m["group"] == "backup"}
    assert {name for name, _ in figures} == {
        "image size over the image without it", "full backup: time", "full backup: bytes uploaded",
        "restore: time", "incremental after 1 % changed: time", "incremental after 1 % changed: bytes"}
    # With the service off nothing of it ships: the image is the one it extends, byte for byte.
    assert figures["image size over the image without it", "backup-off"]["samples"] == [0]
    full = figures["full backup: bytes uploaded", "10 MB"]["samples"][0]
    incremental = figures["incremental after 1 % changed: bytes", "10 MB"]["samples"][0]
    assert full >= 10 and 0.1 <= incremental < full / 5
    assert not engine.images.list(name="boxwright/bench-backup")
