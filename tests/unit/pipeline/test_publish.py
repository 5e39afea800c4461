"""publish's pure parts: tags, retry policy, transport checks."""

from __future__ import annotations

import pytest

from boxwright.errors import PublishError
from boxwright.pipeline.publish import (
    _engine_insecure,
    is_transient,
    release_tags,
    revision_tag,
    with_retries,
)
from boxwright.provenance import DIRTY_LABEL, INPUT_LABEL

LABELS = {
    "org.opencontainers.image.version": "0.1.0",
    "org.opencontainers.image.revision": "3f2c1a9b7d10e4b3c2a1f0e9d8c7b6a5f4e3d2c1",
    DIRTY_LABEL: "false",
    INPUT_LABEL: "b9d08312be69e570442e67359fb031a89ffaf2f8fdc208434ca91794f34c77c8",
}


def test_release_tags_are_revision_version_latest():
    assert release_tags(LABELS) == ["0.1.0-3f2c1a9b7d10", "0.1.0", "latest"]
    assert release_tags(LABELS, latest=False) == ["0.1.0-3f2c1a9b7d10", "0.1.0"]


def test_dirty_build_tag_names_its_inputs():
    assert revision_tag({**LABELS, DIRTY_LABEL: "true"}) == "0.1.0-3f2c1a9b7d10-dirty-b9d08312"


def test_image_not_built_by_boxwright_has_no_tags():
    with pytest.raises(PublishError, match=r"org\.opencontainers\.image\.revision"):
        revision_tag({"org.opencontainers.image.version": "1.0.0"})


@pytest.mark.parametrize(
    ("message", "transient"),
    [
        ("received unexpected HTTP status: 503 Service Unavailable", True),
        ("net/http: request canceled (Client.Timeout exceeded)", True),
        ("read tcp 127.0.0.1:4000: connection reset by peer", True),
        ("unexpected EOF", True),
        ('Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused', False),
        ("no basic auth credentials", False),
        ("unauthorized: authentication required", False),
        ('Get "https://10.0.0.1:5000/v2/": http: server gave HTTP response to HTTPS client', False),
        ("x509: certificate signed by unknown authority", False),
        ("manifest invalid", False),
    ],
)
def test_only_transient_failures_are_retried(message, transient):
    assert is_transient(message) is transient


def attempts_failing_with(message: str, failures: int) -> tuple[list[int], object]:
    calls: list[int] = []

    def attempt() -> str:
        calls.append(1)
        if len(calls) <= failures:
            raise PublishError(message)
        return "pushed"

    return calls, attempt


def test_retries_are_bounded():
    calls, attempt = attempts_failing_with("503 Service Unavailable", failures=10)
    with pytest.raises(PublishError):
        with_retries(attempt, retries=3, sleep=lambda _: None, say=lambda _: None)
    assert len(calls) == 4


def test_a_transient_failure_then_success():
    calls, attempt = attempts_failing_with("connection reset by peer", failures=2)
    assert with_retries(attempt, retries=3, sleep=lambda _: None, say=lambda _: None) == "pushed"
    assert len(calls) == 3


def test_a_refusal_is_not_retried():
    calls, attempt = attempts_failing_with("unauthorized: authentication required", failures=10)
    with pytest.raises(PublishError):
        with_retries(attempt, retries=3, sleep=lambda _: None, say=lambda _: None)
    assert len(calls) == 1


def test_backoff_doubles():
    waits: list[float] = []
    _, attempt = attempts_failing_with("503", failures=3)
    with_retries(attempt, retries=3, delay=2, sleep=waits.append, say=lambda _: None)
    assert waits == [2, 4, 8]


@pytest.mark.parametrize(
    ("registry", "insecure"),
    [("127.0.0.1:5000", True), ("10.1.2.3:5000", False), ("registry.local:5000", True),
     ("registry.example:443", False)],
)
def test_dockerd_insecure_view(registry, insecure):
    config = {"InsecureRegistryCIDRs": ["127.0.0.0/8"],
              "IndexConfigs": {"registry.local:5000": {"Secure": False}}}
    assert _engine_insecure(config, registry, registry.rsplit(":", 1)[0]) is insecure
