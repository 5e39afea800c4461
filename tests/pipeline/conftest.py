"""Real registries for the pipeline's tests: Debian's docker-registry on a free port, stopped afterwards."""

from __future__ import annotations

import contextlib
import fcntl
import socket
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from boxwright.pipeline.registry import LocalRegistry

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ci"
USER, PASSWORD = "ci", "s3cret-for-tests"


def local_tags(engine: docker.DockerClient, address: str) -> list[str]:
    """Every local tag that names ``address`` as its registry."""
    return sorted(t for image in engine.images.list() for t in image.tags if t.startswith(f"{address}/"))


def _forget(engine: docker.DockerClient, address: str) -> None:
    for tag in local_tags(engine, address):
        with contextlib.suppress(docker.errors.APIError):
            engine.images.remove(tag, noprune=True)


@pytest.fixture
def start_registry(tmp_path: Path, engine: docker.DockerClient) -> Iterator[Callable[..., LocalRegistry]]:
    """``start_registry(host=..., users=...)``: a running registry, stopped and forgotten after the test."""
    started: list[LocalRegistry] = []

    def start(**options: object) -> LocalRegistry:
        registry = LocalRegistry(tmp_path / f"registry-{len(started)}", **options)  # type: ignore[arg-type]
        started.append(registry.start())
        return registry

    yield start
    for registry in started:
        registry.stop()
        _forget(engine, registry.address)


@pytest.fixture
def tags_for(engine: docker.DockerClient) -> Callable[[str], list[str]]:
    """``tags_for(address)``: the local tags naming that registry (a failed push must leave none)."""
    return lambda address: local_tags(engine, address)


@pytest.fixture
def credentials() -> dict[str, str]:
    """What ``auth_registry`` accepts, in the Docker SDK's ``auth_config`` shape."""
    return {"username": USER, "password": PASSWORD}


@pytest.fixture
def registry(start_registry: Callable[..., LocalRegistry]) -> LocalRegistry:
    """A plain-HTTP registry on 127.0.0.1 (dockerd treats 127.0.0.0/8 as insecure by default)."""
    return start_registry()


@pytest.fixture
def auth_registry(start_registry: Callable[..., LocalRegistry]) -> LocalRegistry:
    """A registry that wants ``USER``/``PASSWORD`` (htpasswd, bcrypt)."""
    return start_registry(users={USER: PASSWORD})


def host_ipv4_addresses() -> list[str]:
    """This host's IPv4 addresses outside 127.0.0.0/8 (SIOCGIFADDR on each interface)."""
    found = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _, name in socket.if_nameindex():
            request = struct.pack("256s", name.encode()[:15])
            try:
                answer = fcntl.ioctl(sock.fileno(), 0x8915, request)  # SIOCGIFADDR
            except OSError:  # no IPv4 address on this interface
                continue
            address = socket.inet_ntoa(answer[20:24])
            if not address.startswith("127."):
                found.append(address)
    return found


@pytest.fixture
def off_loopback_registry(start_registry: Callable[..., LocalRegistry]) -> LocalRegistry:
    """A plain-HTTP registry on a non-loopback address: dockerd insists on HTTPS there."""
    addresses = host_ipv4_addresses()
    assert addresses, "this host has no IPv4 address outside 127.0.0.0/8"
    return start_registry(host=addresses[0])
