"""The image under Docker Swarm on loopback: a service with the HEALTHCHECK and a stop grace period,
rolling updates (start-first and stop-first) and an automatic rollback (boxwright/image/swarm.py).

A web probe built FROM the image answers its version; every update goes from ``v1`` to ``v2`` (or to
``broken``, whose check never passes). "Healthy before the next is replaced" is sampled all through
the update: the healthy tasks never drop below the replicas (start-first) or one less (stop-first).
"""

from __future__ import annotations

import contextlib
import threading
import urllib.request
from collections.abc import Callable, Iterator

import docker.errors
import pytest

from boxwright.engine import docker_client
from boxwright.image.swarm import (
    ServiceOptions,
    build_probe,
    create_service,
    single_node_swarm,
    task_image,
    task_ports,
    tasks,
    update_service,
    wait_converged,
    wait_update,
)
from support.containers import SESSION
from support.health import exec_out

REPOSITORY = f"boxwright-test-{SESSION}/probe"
REPLICAS = 3
GRACE_NS = 10_000_000_000  # --stop-grace-period 10s


@pytest.fixture(scope="module")
def probes(image_id: str) -> Iterator[dict[str, str]]:
    """The probe image FROM the image under test: v1, v2 (one label apart) and broken."""
    tags = {version: f"{REPOSITORY}:{version}" for version in ("v1", "v2", "broken")}
    try:
        for version, tag in tags.items():
            build_probe(image_id, tag, version, broken=version == "broken")
        yield tags
    finally:
        for tag in tags.values():
            with contextlib.suppress(docker.errors.ImageNotFound):  # a failed build left none
                docker_client().images.remove(tag, force=True)


@pytest.fixture(scope="module")
def swarm(probes: dict[str, str]) -> Iterator[None]:
    """A single-node swarm for this file; left (with its networks) before the probes are removed,
    and checked gone (a failure here is an error of the file's last test)."""
    before = {n.name for n in docker_client().networks.list()}
    with single_node_swarm():
        yield
    assert docker_client().info()["Swarm"]["LocalNodeState"] == "inactive"
    assert {n.name for n in docker_client().networks.list()} <= before


@pytest.fixture
def service(swarm: None, probes: dict[str, str]) -> Iterator[Callable[[str], str]]:
    """``service(order)``: a fresh service of probe v1, 3 replicas all running; removed after the test."""
    made: list[str] = []

    def create(order: str) -> str:
        name = f"bwtest-{SESSION}-{order}"
        create_service(name, probes["v1"], ServiceOptions(replicas=REPLICAS, order=order))
        made.append(name)
        return name

    yield create
    for name in made:
        docker_client().services.get(name).remove()


class HealthySampler(threading.Thread):
    """Counts the service's running, healthy containers until stopped: (min, max) seen."""

    def __init__(self, name: str):
        super().__init__(daemon=True)
        self.name_, self.counts, self.done = name, [], threading.Event()

    def run(self) -> None:
        filters = {"label": f"com.docker.swarm.service.name={self.name_}", "health": "healthy"}
        while not self.done.is_set():
            # The low-level list: the SDK's inspects each container, which Swarm may remove meanwhile.
            self.counts.append(len(docker_client().api.containers(filters=filters)))
            self.done.wait(0.1)

    def __enter__(self) -> HealthySampler:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.done.set()
        self.join()


def answers(name: str) -> list[str]:
    """What each routed task of the service answers."""
    return sorted(urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
                  for port in task_ports(name).values())


def by_image(name: str, tag: str) -> list[dict]:
    return [t for t in tasks(name) if task_image(t) == tag]


def health_of(container_id: str) -> dict | None:
    """A task container's health record (None when Swarm has removed the container)."""
    with contextlib.suppress(docker.errors.NotFound):
        return docker_client().api.inspect_container(container_id)["State"].get("Health")
    return None


def test_service_runs_the_image_with_its_healthcheck_and_grace(service, probes):
    name = service("stop-first")
    spec = docker_client().api.inspect_service(name)["Spec"]["TaskTemplate"]["ContainerSpec"]
    assert spec["StopGracePeriod"] == GRACE_NS
    assert "Test" not in spec["Healthcheck"]  # the image's own command, at a 1 s interval
    assert spec["Healthcheck"]["Interval"] == 1_000_000_000
    containers = docker_client().containers.list(filters={"label": f"com.docker.swarm.service.name={name}"})
    assert len(containers) == REPLICAS
    for container in containers:
        assert container.attrs["State"]["Health"]["Status"] == "healthy"
        assert exec_out(container, "service-status", "--health") == (0, "healthy: syslog, cron, probe\n")
    assert answers(name) == ["v1"] * REPLICAS


@pytest.mark.parametrize("order", ["start-first", "stop-first"])
def test_rolling_update_replaces_every_task_healthy_first(service, probes, order):
    name = service(order)
    with HealthySampler(name) as sampler:
        previous = update_service(name, probes["v2"], order)
        assert wait_update(name, previous) == "completed"
    new, old = by_image(name, probes["v2"]), by_image(name, probes["v1"])
    assert [(t["DesiredState"], t["Status"]["State"]) for t in new] == [("running", "running")] * REPLICAS
    assert answers(name) == ["v2"] * REPLICAS
    # Each old task was stopped, and my_init ended it within the grace period (a SIGKILL is 137).
    assert sorted((t["Status"]["State"], t["Status"]["ContainerStatus"]["ExitCode"]) for t in old) == [
        ("shutdown", 0)] * REPLICAS
    # Never fewer healthy than the order allows. (No upper bound: once a new task runs, Swarm moves
    # on without waiting for the old one it stops, so start-first briefly has up to 5.)
    least = REPLICAS if order == "start-first" else REPLICAS - 1
    assert min(sampler.counts) >= least, sampler.counts


def test_an_update_whose_check_fails_is_rolled_back(service, probes):
    name = service("stop-first")
    previous = update_service(name, probes["broken"], "stop-first")
    assert wait_update(name, previous) == "rollback_completed"
    spec = docker_client().api.inspect_service(name)["Spec"]["TaskTemplate"]["ContainerSpec"]
    assert spec["Image"].split("@")[0] == probes["v1"]
    # The slot whose broken task failed gets its v1 task back as the reconciler restarts it.
    wait_converged(name, probes["v1"], REPLICAS)
    running = [t for t in tasks(name) if t["DesiredState"] == "running"]
    assert sorted(task_image(t) for t in running) == [probes["v1"]] * REPLICAS
    assert answers(name) == ["v1"] * REPLICAS
    broken = by_image(name, probes["broken"])
    # The broken task's container went unhealthy; Swarm stopped it (my_init exits 0) and the early
    # end of a task under the update monitor failed the update.
    assert broken and all(t["DesiredState"] == "shutdown" for t in broken)
    ended = [t["Status"]["ContainerStatus"]["ContainerID"] for t in broken
             if t["Status"].get("ContainerStatus", {}).get("ContainerID")]
    health = [health_of(c) for c in ended]
    # (A second broken task the reconciler started may be stopped by the rollback before any check.)
    assert any(h and h["Status"] == "unhealthy" and "probe check failed (not ready)" in h["Log"][-1]["Output"]
               for h in health), health
