"""The swarm group: a rolling update of 3 replicas under Docker Swarm, timed, with a client polling.

The service is the web probe built FROM the image (boxwright/image/swarm.py): a runit service
with a ``check`` script, so the image's HEALTHCHECK says when a task is ready.  While
``docker service update --image`` rolls it (parallelism 1, no delay), a client routes like a
Swarm-aware proxy: every 50 ms it asks the manager which tasks run (desired state running) and
sends each one a request on 127.0.0.1.  A failed request is one that got no answer, or not the
probe's.  Target: 0.
"""

from __future__ import annotations

import threading
import time
import urllib.request

from boxwright.bench.record import Recorder
from boxwright.engine import docker_client
from boxwright.errors import BenchError
from boxwright.image.build import build_image
from boxwright.image.swarm import (
    ServiceOptions,
    build_probe,
    create_service,
    single_node_swarm,
    task_ports,
    update_service,
    wait_update,
)

__all__ = ["bench_swarm"]

REPLICAS = 3
#: Seconds between two polls of the client.
POLL = 0.05
REPOSITORY = "boxwright-bench/probe"
ORDERS = ("start-first", "stop-first")


class _Client(threading.Thread):
    """Polls every routed task of ``service`` until stopped; counts requests and failures."""

    def __init__(self, service: str) -> None:
        super().__init__(daemon=True)
        self.service = service
        self.requests = self.failed = 0
        self.errors: list[str] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            for port in task_ports(self.service).values():
                self.requests += 1
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as answer:
                        if answer.status != 200 or not answer.read().startswith(b"v"):
                            raise OSError(f"answer {answer.status}")
                except OSError as error:
                    self.failed += 1
                    self.errors.append(f"{port}: {error}")
            self.done.wait(POLL)


def bench_swarm(rec: Recorder, name: str = "baseimage") -> None:
    """Swarm rolling update of 3 replicas: total time and failed requests of a polling client."""
    base = build_image(name).image_id
    tags = {version: f"{REPOSITORY}:{version}" for version in ("v1", "v2")}
    for version, tag in tags.items():
        build_probe(base, tag, version)
    orders = ORDERS[:1] if rec.quick else ORDERS
    try:
        with single_node_swarm():
            for order in orders:
                _rolling_updates(rec, order, tags, 1 if rec.quick else rec.repeat)
    finally:
        for tag in tags.values():
            docker_client().images.remove(tag, force=True)


def _rolling_updates(rec: Recorder, order: str, tags: dict[str, str], n: int) -> None:
    service = f"boxwright-bench-{order}"
    create_service(service, tags["v1"], ServiceOptions(replicas=REPLICAS, order=order))
    seconds: list[float] = []
    failed: list[float] = []
    requests = 0
    try:
        for round_ in range(n):
            target = tags["v2"] if round_ % 2 == 0 else tags["v1"]
            client = _Client(service)
            client.start()
            started = time.monotonic()
            previous = update_service(service, target, order)
            state = wait_update(service, previous)
            seconds.append(time.monotonic() - started)
            client.done.set()
            client.join()
            if state != "completed":
                raise BenchError(f"swarm bench: the update of {service} ended {state}")
            failed.append(client.failed)
            requests += client.requests
    finally:
        docker_client().services.get(service).remove()  # type: ignore[no-untyped-call]
    variant = order
    rec.add("swarm", f"rolling update of {REPLICAS} replicas: total", variant, "s", seconds,
            note="parallelism 1, health interval 1 s")
    rec.add("swarm", "rolling update: failed requests (target 0)", variant, "requests", failed,
            note=f"of {requests} requests, every routed task polled every {POLL * 1000:.0f} ms")
