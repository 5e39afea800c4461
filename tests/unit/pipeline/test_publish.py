"""publish's pure parts: tags, retry policy, transport checks."""

from __future__ import annotations

import docker.errors
import pytest
import requests

from boxwright.errors import PublishError
from boxwright.pipeline.publish import (
    _engine_insecure,
    is_transient,
    is_transient_api_error,
    release_tags,
    revision_tag,
    stream_error,
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
        ("received unexpected HTTP status: 502 Bad Gateway", True),
        ("received unexpected HTTP status: 429 Too Many Requests", True),
        ("net/http: request canceled (Client.Timeout exceeded)", True),
        ("read tcp 127.0.0.1:4000: connection reset by peer", True),
        ('Get "http://127.0.0.1:36451/v2/": read tcp 127.0.0.1:45644->127.0.0.1:36451: read: '
         "connection reset by peer", True),
        ('Put "http://127.0.0.1:5030/v2/boxwright/x/blobs/uploads/": EOF', True),
        ("unexpected EOF", True),
        ("write: broken pipe", True),
        ("toomanyrequests: You have reached your pull rate limit", True),
        ("unavailable: the registry is in maintenance", True),
        ('Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused', False),
        ("no basic auth credentials", False),
        ("unauthorized: authentication required", False),
        ('Get "https://10.0.0.1:5000/v2/": http: server gave HTTP response to HTTPS client', False),
        ("x509: certificate signed by unknown authority", False),
        ("manifest invalid", False),
        ("received unexpected HTTP status: 404 Not Found", False),
        ('error parsing HTTP 405 response body: invalid character \'M\' looking for beginning of value: '
         '"Method not allowed\\n"', False),
        ('error parsing HTTP 503 response body: invalid character \'<\' looking for beginning of value: '
         '"<html>busy</html>"', True),
        # Numbers in the host, port or tag are not statuses (the registry on 5030, a revision with 503).
        ('Get "http://127.0.0.1:5030/v2/": dial tcp 127.0.0.1:5030: connect: connection refused', False),
        ('Get "http://10.5.0.3:5503/v2/": dial tcp 10.5.0.3:5503: connect: no route to host', False),
        ("denied: requested access to 127.0.0.1:5030/boxwright/x:1.503.0-503503503503 is denied", False),
        ("tag does not exist: 127.0.0.1:5030/boxwright/baseimage:0.1.0-5035045025ab", False),
        ("An image does not exist locally with the tag: 127.0.0.1:5504/boxwright/x", False),
    ],
)
def test_only_transient_failures_are_retried(message, transient):
    assert is_transient(message) is transient


@pytest.mark.parametrize(("code", "transient"), [(503, True), (502, True), (429, True), (401, False),
                                                 (403, False), (404, False)])
def test_an_error_code_in_the_stream_decides(code, transient):
    assert is_transient("unauthorized: authentication required", code) is transient
    assert is_transient("received unexpected HTTP status: 503 Service Unavailable", code) is transient


REFERENCE = "127.0.0.1:5030/boxwright/baseimage:0.1.0-503503503503"


@pytest.mark.parametrize(
    ("chunk", "transient"),
    [  # as dockerd 20.10 streams them (captured from real pushes)
        ({"errorDetail": {"message": "no basic auth credentials"}, "error": "no basic auth credentials"},
         False),
        ({"errorDetail": {"message": 'Get "http://127.0.0.1:5030/v2/": dial tcp 127.0.0.1:5030: connect: '
                                     "connection refused"},
          "error": 'Get "http://127.0.0.1:5030/v2/": dial tcp 127.0.0.1:5030: connect: connection refused'},
         False),
        ({"errorDetail": {"message": "received unexpected HTTP status: 503 Service Unavailable"},
          "error": "received unexpected HTTP status: 503 Service Unavailable"}, True),
        ({"errorDetail": {"code": 503, "message": "unavailable"}, "error": "unavailable"}, True),
        ({"error": "unexpected EOF"}, True),
    ],
)
def test_push_stream_errors_are_one_line_and_classified(chunk, transient):
    error = stream_error(REFERENCE, chunk)
    assert str(error).startswith(f"push of {REFERENCE} refused: ")
    assert "\n" not in str(error)
    assert error.transient is transient


def api_error(status: int, explanation: str) -> docker.errors.APIError:
    """An APIError as docker-py builds it from the engine's HTTP answer."""
    response = requests.Response()
    response.status_code = status
    response.reason = explanation
    return docker.errors.APIError(f"{status} Server Error", response=response, explanation=explanation)


@pytest.mark.parametrize(("status", "transient"), [(500, True), (502, True), (503, True), (504, True),
                                                   (429, True), (408, True), (400, False), (401, False),
                                                   (403, False), (404, False), (409, False)])
def test_engine_answers_are_classified_by_status_code(status, transient):
    # The explanation names a port and a tag full of 503s: only the status counts.
    assert is_transient_api_error(api_error(status, f"push {REFERENCE} to 127.0.0.1:5030")) is transient


def attempts_failing_with(message: str, failures: int, *, transient: bool = True) -> tuple[list[int], object]:
    calls: list[int] = []

    def attempt() -> str:
        calls.append(1)
        if len(calls) <= failures:
            raise PublishError(message, transient=transient)
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
    calls, attempt = attempts_failing_with("unauthorized: authentication required", failures=10,
                                           transient=False)
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
