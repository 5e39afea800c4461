"""The image under Docker Swarm: a single-node swarm on loopback, a web probe built FROM the image,
services with the image's HEALTHCHECK, rolling updates.

* :func:`single_node_swarm` runs ``docker swarm init --advertise-addr 127.0.0.1`` and, whatever
  happens inside, removes its services, leaves the swarm and removes every network the swarm made
  (``ingress`` goes with the swarm, ``docker_gwbridge`` stays behind unless removed); the
  services made here use no network of their own.  It refuses an
  engine that is already in a swarm: that one belongs to someone else.
* :func:`build_probe` builds ``FROM`` the image a tiny HTTP service (a runit service with a ``check``
  script, so the HEALTHCHECK waits for it) answering its version on port 8080; ``broken=True`` gives
  one whose check never passes, the update that must be rolled back.
* Tasks publish in host mode on a port the engine picks (``--publish mode=host,target=8080``): the
  routing mesh (IPVS) does not forward on this machine, and one node cannot give three tasks the same
  host port.  :func:`task_ports` is what a Swarm-aware client (Traefik's swarm provider works this
  way) routes to: the published ports of the tasks that are running and meant to keep running.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors

from boxwright import proc
from boxwright.engine import docker_client, stream_build
from boxwright.errors import EngineError

__all__ = [
    "PORT",
    "ServiceOptions",
    "build_probe",
    "create_service",
    "single_node_swarm",
    "task_image",
    "task_ports",
    "tasks",
    "update_service",
    "wait_converged",
    "wait_update",
]

log = logging.getLogger(__name__)

#: The port the probe service listens on inside each task.
PORT = 8080
#: The networks ``swarm init`` makes; ``ingress`` goes with the swarm, the bridge stays behind.
SWARM_NETWORKS = ("docker_gwbridge", "ingress")
#: Every service made here carries this label (removed with the swarm).
SERVICE_LABEL = "io.boxwright.swarm"

_SERVER = """\
import http.server
import signal
import threading
import time

VERSION = open("/srv/probe/version").read().strip().encode()
DRAIN = 1.0  # seconds it keeps answering after SIGTERM: clients see the task leave first


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(VERSION)))
        self.end_headers()
        self.wfile.write(VERSION)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("0.0.0.0", 8080), Handler)


def drain(*_):
    threading.Thread(target=lambda: (time.sleep(DRAIN), server.shutdown()), daemon=True).start()


signal.signal(signal.SIGTERM, drain)
server.serve_forever()
"""
_RUN = "#!/bin/sh\nexec 2>&1\nexec python3 /srv/probe/server.py\n"
_CHECK = """#!/bin/sh
exec python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/', timeout=2)"
"""
_BROKEN_CHECK = "#!/bin/sh\necho 'probe: never ready' >&2\nexit 1\n"
_DOCKERFILE = """\
FROM {base}
ARG VERSION
COPY server.py /srv/probe/server.py
COPY run check /etc/service/probe/
RUN echo "$VERSION" > /srv/probe/version
LABEL io.boxwright.probe.version=$VERSION
"""


@contextlib.contextmanager
def single_node_swarm() -> Iterator[docker.DockerClient]:
    """A swarm of this engine alone, on 127.0.0.1; left, with its networks, however the block ends."""
    client = docker_client()
    if client.info().get("Swarm", {}).get("LocalNodeState") not in ("inactive", ""):
        raise EngineError("this Docker engine is already part of a swarm: not touching it "
                          "(leave it first: docker swarm leave --force)")
    networks = {str(n.id) for n in client.networks.list()}
    client.swarm.init(advertise_addr="127.0.0.1", listen_addr="127.0.0.1:2377")
    log.info("swarm: initialised on 127.0.0.1")
    try:
        yield client
    finally:
        _leave(client, networks)


def _leave(client: docker.DockerClient, networks: set[str]) -> None:
    try:
        for service in client.services.list(filters={"label": SERVICE_LABEL}):
            with contextlib.suppress(docker.errors.NotFound):
                service.remove()  # type: ignore[no-untyped-call]
        deadline = time.monotonic() + 60
        while _task_containers(client) and time.monotonic() < deadline:
            time.sleep(0.2)
        for container in _task_containers(client):
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)
    finally:
        _leave_swarm(client)
        # Only the swarm's own: other sessions on this engine make networks of their own meanwhile.
        for network in client.networks.list(names=list(SWARM_NETWORKS)):
            if network.id not in networks and network.name in SWARM_NETWORKS:
                with contextlib.suppress(docker.errors.NotFound):
                    network.remove()
        log.info("swarm: left, its networks removed")


def _leave_swarm(client: docker.DockerClient, tries: int = 5) -> None:
    """``docker swarm leave --force``, again after a pause when the engine is busy tearing down."""
    for attempt in range(tries):
        try:
            client.swarm.leave(force=True)
            return
        except docker.errors.APIError as error:
            if attempt == tries - 1:
                raise EngineError(f"docker swarm leave --force failed: {error.explanation}") from None
            log.info("swarm: leave failed (%s), again in 2 s", error.explanation)
            time.sleep(2)


def _task_containers(client: docker.DockerClient) -> list[Any]:
    """Containers of the swarm's tasks (the low-level list: Swarm removes them while we look)."""
    found = client.api.containers(all=True, filters={"label": SERVICE_LABEL})
    return [client.containers.prepare_model(c) for c in found]


def build_probe(base: str, tag: str, version: str, broken: bool = False) -> str:
    """Build the probe image FROM ``base`` as ``tag`` (answers ``version``); its id."""
    with tempfile.TemporaryDirectory(prefix="boxwright-probe-") as tmp:
        context = Path(tmp)
        (context / "Dockerfile").write_text(_DOCKERFILE.format(base=base))
        (context / "server.py").write_text(_SERVER)
        for name, text in (("run", _RUN), ("check", _BROKEN_CHECK if broken else _CHECK)):
            (context / name).write_text(text)
            (context / name).chmod(0o755)
        return stream_build(docker_client(), f"probe {tag}", level=logging.DEBUG, path=tmp, tag=tag,
                            buildargs={"VERSION": version})


@dataclass(frozen=True)
class ServiceOptions:
    """How the service is run and updated (Docker's health options override the image's timing only)."""

    replicas: int = 3
    order: str = "stop-first"
    stop_grace: str = "10s"
    health_interval: str = "1s"
    health_retries: int = 2
    #: Not 0: the CLI leaves a zero out and the image's own (20 s) applies, during which a failing
    #: check does not count.
    health_start_period: str = "2s"
    monitor: str = "3s"


def create_service(name: str, image: str, options: ServiceOptions | None = None) -> None:
    """``docker service create`` of ``image``: host-mode port, the image's HEALTHCHECK, rollback on failure;
    returns when every replica runs (healthy: a task with a HEALTHCHECK runs only once it is)."""
    options = options or ServiceOptions()
    proc.run([
        "docker", "service", "create", "--detach", "--name", name, "--label", SERVICE_LABEL,
        "--container-label", SERVICE_LABEL, "--replicas", str(options.replicas),
        "--publish", f"mode=host,target={PORT}", "--stop-grace-period", options.stop_grace,
        "--health-interval", options.health_interval, "--health-retries", str(options.health_retries),
        "--health-start-period", options.health_start_period,
        "--update-parallelism", "1", "--update-delay", "0s", "--update-order", options.order,
        "--update-failure-action", "rollback",
        "--update-max-failure-ratio", "0", "--update-monitor", options.monitor,
        "--rollback-parallelism", "1", "--rollback-monitor", options.monitor, image,
    ], what="docker service create", error=EngineError)
    wait_converged(name, image, options.replicas)


def update_service(name: str, image: str, order: str) -> str:
    """Start ``docker service update --image`` (detached); the previous update's start, for
    :func:`wait_update`."""
    previous = _update_status(name).get("StartedAt", "")
    proc.run(["docker", "service", "update", "--detach", "--image", image, "--update-order", order, name],
             what="docker service update", error=EngineError)
    return str(previous)


def tasks(name: str) -> list[dict[str, Any]]:
    """Every task of the service (old ones too), as the engine reports them."""
    return list(docker_client().api.tasks(filters={"service": name}))  # type: ignore[no-untyped-call]


def task_ports(name: str) -> dict[str, int]:
    """Task id -> host port, for the tasks a client should route to (running, desired running)."""
    ports = {}
    for task in tasks(name):
        if task["DesiredState"] == "running" and task["Status"]["State"] == "running":
            published = task["Status"].get("PortStatus", {}).get("Ports") or []
            if published:
                ports[task["ID"]] = int(published[0]["PublishedPort"])
    return ports


def wait_converged(name: str, image: str, replicas: int, timeout: float = 120) -> None:
    """Until ``replicas`` tasks of ``image`` run (the give-up guard raises with the task states)."""
    deadline = time.monotonic() + timeout
    while True:
        running = [t for t in tasks(name) if t["DesiredState"] == "running"
                   and t["Status"]["State"] == "running" and task_image(t) == image]
        if len(running) == replicas:
            return
        if time.monotonic() > deadline:
            raise EngineError(f"service {name}: {len(running)} of {replicas} tasks of {image} running "
                              f"after {timeout:.0f} s: {_states(name)}")
        time.sleep(0.2)


def wait_update(name: str, previous: str = "", timeout: float = 180) -> str:
    """Until the service's update (not the one that started at ``previous``) ends; its final state
    (``completed``, ``rollback_completed``, ...)."""
    deadline = time.monotonic() + timeout
    while True:
        status = _update_status(name)
        state = str(status.get("State", ""))
        ended = state in ("completed", "rollback_completed", "paused", "rollback_paused")
        if ended and status.get("StartedAt", "") != previous:
            return state
        if time.monotonic() > deadline:
            raise EngineError(f"service {name}: update still {state or 'pending'} after {timeout:.0f} s: "
                              f"{_states(name)}")
        time.sleep(0.2)


def _update_status(name: str) -> dict[str, Any]:
    service = docker_client().api.inspect_service(name)  # type: ignore[no-untyped-call]
    return dict(service.get("UpdateStatus") or {})


def task_image(task: dict[str, Any]) -> str:
    """The image a task runs, without the digest Swarm pins to it."""
    return str(task["Spec"]["ContainerSpec"]["Image"]).split("@")[0]


def _states(name: str) -> str:
    return "; ".join(
        f"{task_image(t)} {t['Status']['State']}/{t['DesiredState']} {t['Status'].get('Err', '')}".strip()
        for t in tasks(name))
