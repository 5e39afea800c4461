"""publish against real registries: the round trip, and every way a registry can refuse."""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import struct
import subprocess
import threading
from collections.abc import Iterator

import pytest

from boxwright import PROJECT_ROOT
from boxwright.errors import PublishError
from boxwright.image.sbom import SBOM_LABEL
from boxwright.pipeline.publish import publish, release_tags
from boxwright.pipeline.registry import free_port
from support.containers import SESSION, TEST_LABEL
from support.registry import manifest_digest, repository_tags
from support.tar import tar_of


def test_round_trip_push_pull_run(engine, containers, image_id, registry):
    image = engine.images.get(image_id)
    pushed = publish(image_id, "baseimage", registry.address)
    tags = release_tags(image.labels)
    assert [p.reference for p in pushed] == [f"{registry.address}/boxwright/baseimage:{t}" for t in tags]
    digest = pushed[0].digest
    assert {p.digest for p in pushed} == {digest}
    assert repository_tags(registry.address, "boxwright/baseimage") == sorted(tags)
    assert manifest_digest(registry.address, "boxwright/baseimage", tags[0]) == digest

    # Forget the local name, pull it back from the registry and run what came back.
    reference = pushed[0].reference
    engine.images.remove(reference, noprune=True)
    pulled = engine.images.pull(reference)
    assert pulled.id == image.id
    assert f"{registry.address}/boxwright/baseimage@{digest}" in pulled.attrs["RepoDigests"]
    assert pulled.labels[SBOM_LABEL] == image.labels[SBOM_LABEL]
    output = containers.run(reference, ["sh", "-c", "echo round trip"], remove=True)
    assert output == b"round trip\n"


def test_publishing_again_gives_the_same_tags_and_digest(image_id, registry):
    first = publish(image_id, "baseimage", registry.address)
    again = publish(image_id, "baseimage", registry.address, latest=False)
    assert [(p.reference, p.digest) for p in again] == [(p.reference, p.digest) for p in first[:2]]


def test_unreachable_registry_is_one_clear_line_and_leaves_no_tags(image_id, tags_for):
    address = f"127.0.0.1:{free_port()}"
    with pytest.raises(PublishError) as caught:
        publish(image_id, "baseimage", address)
    message = str(caught.value)
    assert "\n" not in message
    assert "connection refused" in message
    assert "is a registry listening there?" in message
    assert tags_for(address) == []


def test_registry_wanting_credentials_refuses_without_them(image_id, auth_registry, tags_for, monkeypatch):
    monkeypatch.delenv("BOXWRIGHT_REGISTRY_USERNAME", raising=False)
    with pytest.raises(PublishError) as caught:
        publish(image_id, "baseimage", auth_registry.address)
    message = str(caught.value)
    assert "\n" not in message
    assert "no basic auth credentials" in message
    assert "BOXWRIGHT_REGISTRY_USERNAME" in message
    assert tags_for(auth_registry.address) == []


def test_wrong_password_is_refused(image_id, auth_registry, credentials, tags_for):
    with pytest.raises(PublishError, match="unauthorized"):
        publish(image_id, "baseimage", auth_registry.address,
                auth={**credentials, "password": "wrong"})
    assert tags_for(auth_registry.address) == []


def test_credentials_from_the_environment_are_used(image_id, auth_registry, credentials, monkeypatch):
    monkeypatch.setenv("BOXWRIGHT_REGISTRY_USERNAME", credentials["username"])
    monkeypatch.setenv("BOXWRIGHT_REGISTRY_PASSWORD", credentials["password"])
    pushed = publish(image_id, "baseimage", auth_registry.address, latest=False)
    assert len(pushed) == 2


def test_plain_http_off_loopback_is_a_tls_refusal(image_id, off_loopback_registry, tags_for):
    address = off_loopback_registry.address
    with pytest.raises(PublishError) as caught:
        publish(image_id, "baseimage", address)
    assert "server gave HTTP response to HTTPS client" in str(caught.value)
    assert "--insecure" in str(caught.value)
    assert tags_for(address) == []


def test_insecure_flag_is_checked_against_dockerd(image_id, off_loopback_registry, tags_for):
    address = off_loopback_registry.address
    with pytest.raises(PublishError, match="dockerd would still use HTTPS"):
        publish(image_id, "baseimage", address, insecure=True)
    assert tags_for(address) == []


def test_missing_local_image_names_the_build_command():
    with pytest.raises(PublishError, match=r"build-image --name nothing-here"):
        publish("boxwright/nothing-here:0.0.0", "nothing-here", "127.0.0.1:5000")


def test_publish_task_refusal_is_one_line_and_exit_1(image_id, arm64_image):
    address = f"127.0.0.1:{free_port()}"
    result = subprocess.run(
        [str(PROJECT_ROOT / "kit"), "publish", "--image", "baseimage", "--registry", address],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 1
    last = (result.stdout + result.stderr).strip().splitlines()[-1]
    assert last.startswith(f"error: push of {address}/boxwright/baseimage:")
    assert "connection refused" in last


#: A revision full of 503s: the tag reads ``5.0.3-503503503503``.
REVISION_503 = "503503503503" + "0" * 28


@pytest.fixture(scope="module")
def image_503(engine):
    """This session's one-file boxwright-labelled image, its version and revision full of 503s."""
    dockerfile = (f"FROM scratch\nLABEL org.opencontainers.image.version=5.0.3 "
                  f"org.opencontainers.image.revision={REVISION_503} {TEST_LABEL}={SESSION}\nCOPY probe /\n")
    tag = f"boxwright-test/tag-503-{SESSION}:1"
    context = io.BytesIO(tar_of({"Dockerfile": dockerfile, "probe": "503\n"}))
    image, _ = engine.images.build(fileobj=context, custom_context=True, rm=True, tag=tag)
    yield image.id
    engine.images.remove(tag, force=True)


def port_with_503() -> int:
    """A free port on 127.0.0.1 whose number holds "503" (5030..5039, 15030..15039, ...)."""
    for port in (p for base in (5030, 15030, 25030, 35030, 45030) for p in range(base, base + 10)):
        with socket.socket() as probe, contextlib.suppress(OSError):
            probe.bind(("127.0.0.1", port))
            return port
    raise AssertionError("no free port holding 503 on 127.0.0.1")


@pytest.mark.parametrize(("options", "said"), [
    ({"users": {"ci": "s3cret-for-tests"}}, "no basic auth credentials"),
    ({"read_only": True}, "error parsing HTTP 405 response body"),  # maintenance mode: pushes refused
], ids=["wants-credentials", "read-only"])
def test_a_refusal_on_port_503x_with_a_503_tag_is_not_retried(image_503, start_registry, tags_for, caplog,
                                                              monkeypatch, options, said):
    monkeypatch.delenv("BOXWRIGHT_REGISTRY_USERNAME", raising=False)
    caplog.set_level(logging.INFO, logger="boxwright")
    registry = start_registry(port=port_with_503(), **options)
    assert "503" in registry.address
    with pytest.raises(PublishError) as caught:
        publish(image_503, "tag-503", registry.address)
    message = str(caught.value)
    assert message.startswith(f"push of {registry.address}/boxwright/tag-503:5.0.3-503503503503 refused: ")
    assert said in message and "\n" not in message
    assert not caught.value.transient
    assert "pushing " in caplog.text  # the progress is there ...
    assert "transient failure" not in caplog.text  # ... and says it was refused once, never retried
    assert tags_for(registry.address) == []


@pytest.fixture
def resetting_peer() -> Iterator[str]:
    """``127.0.0.1:PORT`` where every connection is reset as soon as a request arrives (a real RST)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.recv(4096)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    server.close()


def test_a_connection_reset_is_retried(image_503, resetting_peer, tags_for, caplog):
    caplog.set_level(logging.INFO, logger="boxwright")
    with pytest.raises(PublishError) as caught:
        publish(image_503, "tag-503", resetting_peer, retries=1)
    assert "connection reset by peer" in str(caught.value) and caught.value.transient
    assert "retry 1 of 1 in 2 s" in caplog.text
    assert tags_for(resetting_peer) == []
