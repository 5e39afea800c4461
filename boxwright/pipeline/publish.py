"""Push a built image to a registry under its release tags, with the Docker SDK.

Tags come from the image's own provenance labels, never from the checkout, so
an image is published under the commit it was built from:

* ``<version>-<revision>``: the definition's version and the first 12 hex digits
  of the commit; a build from a dirty tree gets ``-dirty-<input hash[:8]>`` appended;
* ``<version>`` and ``latest``: floating tags (``latest`` can be left out).

A push that fails leaves no ``HOST:PORT/boxwright/NAME`` tag behind locally.

A definition with several platforms is published by :func:`publish_platforms`: each
architecture's image goes up as ``<version>-<revision>-<arch>``, then one OCI image index
(:mod:`boxwright.pipeline.index`) of them goes up under each release tag, so
``docker pull --platform linux/arm64 HOST/boxwright/NAME:<version>`` gets the arm64 image.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import docker
import docker.errors
import docker.models.images

from boxwright.engine import docker_client
from boxwright.errors import PublishError
from boxwright.proc import is_dry
from boxwright.provenance import DIRTY_LABEL, INPUT_LABEL

log = logging.getLogger(__name__)

__all__ = [
    "NAMESPACE",
    "Pushed",
    "is_transient",
    "is_transient_api_error",
    "publish",
    "publish_definition",
    "publish_platforms",
    "registry_auth_from_env",
    "registry_repository",
    "release_tags",
    "revision_tag",
    "stream_error",
    "with_retries",
]

NAMESPACE = "boxwright"
VERSION_LABEL = "org.opencontainers.image.version"
REVISION_LABEL = "org.opencontainers.image.revision"
USERNAME_ENV, PASSWORD_ENV = "BOXWRIGHT_REGISTRY_USERNAME", "BOXWRIGHT_REGISTRY_PASSWORD"
#: HTTP statuses worth another try: the registry, or a proxy in front of it, is busy or restarting.
_TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
#: Registry error codes (distribution's errcode, printed by the engine as ``code: message``).
_TRANSIENT_CODES = frozenset({"toomanyrequests", "unavailable"})
#: How the engine prints an HTTP status the registry answered without an error code.
_STATUS = re.compile(r"\b(?:unexpected HTTP status:|error parsing HTTP) (\d{3})\b")
_ERRCODE = re.compile(r"^([a-z][a-z ]*[a-z]): ")
#: Transport failures, as Go's net packages end the engine's message (after the quoted URL).
_TRANSIENT_TRANSPORT = ("connection reset by peer", "broken pipe", "i/o timeout", "tls handshake timeout",
                        "timeout awaiting response headers", "client.timeout exceeded",
                        "context deadline exceeded", "request canceled", "unexpected eof",
                        "temporary failure in name resolution")
_HINTS = (
    (("no basic auth", "unauthorized", "authentication required", "denied"),
     f"the registry wants credentials: set {USERNAME_ENV} and {PASSWORD_ENV} or run docker login"),
    (("http response to https client",),
     "the registry speaks plain HTTP: add it to dockerd's insecure-registries and pass --insecure"),
    (("x509", "certificate", "tls"), "the registry's TLS certificate is not trusted by dockerd"),
    (("connection refused", "no such host", "no route to host"), "is a registry listening there?"),
)

#: Per-layer states not worth a line of output.
_QUIET = ("", "Preparing", "Waiting")

T = TypeVar("T")


@dataclass(frozen=True)
class Pushed:
    """One tag the registry accepted, and the manifest digest it stored."""

    reference: str
    digest: str
    size: int


def revision_tag(labels: Mapping[str, str]) -> str:
    """``<version>-<12 hex of the commit>``, plus ``-dirty-<input hash[:8]>`` for a dirty build."""
    try:
        version, revision = labels[VERSION_LABEL], labels[REVISION_LABEL]
    except KeyError as missing:
        raise PublishError(f"the image has no {missing} label: was it built by boxwright?") from None
    tag = f"{version}-{revision[:12]}"
    if labels.get(DIRTY_LABEL) == "true":
        tag += f"-dirty-{labels.get(INPUT_LABEL, 'unknown')[:8]}"
    return tag


def release_tags(labels: Mapping[str, str], *, latest: bool = True) -> list[str]:
    """The tags to publish, the immutable one first: revision, version, latest."""
    tags = [revision_tag(labels), labels[VERSION_LABEL]]
    return [*tags, "latest"] if latest else tags


def registry_repository(registry: str, name: str) -> str:
    """``HOST:PORT/boxwright/NAME``."""
    return f"{registry.rstrip('/')}/{NAMESPACE}/{name}"


def registry_auth_from_env() -> dict[str, str] | None:
    """Credentials from BOXWRIGHT_REGISTRY_USERNAME/PASSWORD (CI secrets), if both are set."""
    user, password = os.environ.get(USERNAME_ENV, ""), os.environ.get(PASSWORD_ENV, "")
    return {"username": user, "password": password} if user and password else None


def is_transient(message: str, code: int | None = None) -> bool:
    """True for a push failure a retry may fix: a busy registry, a dropped connection.

    ``message`` and ``code`` are what the engine's push stream said (``error`` and
    ``errorDetail.code``), not a sentence around them: host, port and tag never count.
    Refusals (auth, TLS, unknown host, connection refused, a bad manifest) are final.
    """
    if code:
        return code in _TRANSIENT_STATUS
    if status := _STATUS.search(message):
        return int(status[1]) in _TRANSIENT_STATUS
    if (errcode := _ERRCODE.match(message)) and errcode[1] in _TRANSIENT_CODES:
        return True
    cause = re.sub(r'"[^"]*"', "", message).lower().strip()  # no quoted URL: its host, port and path
    return any(phrase in cause for phrase in _TRANSIENT_TRANSPORT) or cause.split(": ")[-1] == "eof"


def is_transient_api_error(error: docker.errors.APIError) -> bool:
    """True when the engine itself answered with a status worth another try (5xx, 408, 429)."""
    return bool(error.is_server_error()) or error.status_code in _TRANSIENT_STATUS


def with_retries(
    attempt: Callable[[], T], *, retries: int = 3, delay: float = 2.0,
    sleep: Callable[[float], None] = time.sleep, say: Callable[[str], None] = log.warning,
) -> T:
    """Call ``attempt``; retry a transient PublishError up to ``retries`` times, backing off."""
    for number in range(retries + 1):
        try:
            return attempt()
        except PublishError as error:
            if number == retries or not error.transient:
                raise
            say(f"transient failure ({error}); retry {number + 1} of {retries} in {delay:.0f} s")
            sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


def publish(
    image: str,
    name: str,
    registry: str,
    *,
    latest: bool = True,
    insecure: bool = False,
    auth: dict[str, str] | None = None,
    retries: int = 3,
    tags: Sequence[str] | None = None,
) -> list[Pushed]:
    """Push local ``image`` as ``REGISTRY/boxwright/NAME`` under its release tags (or ``tags``);
    return the digests.

    Under ``--dry`` nothing is asked of the engine: the push is logged and ``[]`` returned.
    """
    if is_dry():
        more = ", latest" if latest else ""
        log.info("would push %s to %s as <version>-<revision>, <version>%s%s", image,
                 registry_repository(registry, name), more, " (plain HTTP)" if insecure else "")
        return []
    client = docker_client()
    local = _local_image(client, image, f"./kit build-image --name {name}")
    _check_transport(client, registry, insecure)
    repository = registry_repository(registry, name)
    tags = list(tags) if tags is not None else release_tags(local.labels, latest=latest)
    previous = {tag: _image_id(client, f"{repository}:{tag}") for tag in tags}
    credentials = auth or registry_auth_from_env()
    pushed: list[Pushed] = []
    try:
        for tag in tags:
            local.tag(repository, tag)
        for tag in tags:
            push = functools.partial(_push, client, repository, tag, credentials)
            pushed.append(with_retries(push, retries=retries))
    except BaseException as error:
        _restore_tags(client, repository, previous)
        if isinstance(error, PublishError) and pushed:
            done = ", ".join(p.reference.rsplit(":", 1)[1] for p in pushed)
            raise PublishError(f"{error} (already in the registry: {done})") from None
        raise
    for item in pushed:
        log.info("pushed %s %s", item.reference, item.digest)
    return pushed


def _push(client: docker.DockerClient, repository: str, tag: str,
          auth: dict[str, str] | None) -> Pushed:
    """One ``docker push``, printing each layer's state changes; errors become one line."""
    reference = f"{repository}:{tag}"
    seen: set[tuple[str, str]] = set()
    result: dict[str, Any] = {}
    log.info("pushing %s", reference)
    try:
        for chunk in client.api.push(repository, tag=tag, stream=True, decode=True, auth_config=auth):
            if "error" in chunk:
                raise stream_error(reference, chunk)
            if "aux" in chunk and "Digest" in chunk["aux"]:
                result = chunk["aux"]
            layer, status = chunk.get("id", ""), chunk.get("status", "")
            if layer and status not in _QUIET and (layer, status) not in seen:
                seen.add((layer, status))
                log.info("  %s: %s", layer, status)
    except docker.errors.APIError as error:
        raise PublishError(_one_line(reference, str(error.explanation or error)),
                           transient=is_transient_api_error(error)) from None
    if not result:
        raise PublishError(f"push of {reference} ended without a digest")
    return Pushed(reference, result["Digest"], int(result.get("Size", 0)))


def stream_error(reference: str, chunk: Mapping[str, Any]) -> PublishError:
    """The error an engine's push stream reported (``{"error": ..., "errorDetail": {...}}``), classified."""
    detail = chunk.get("errorDetail") or {}
    message = str(detail.get("message") or chunk["error"])
    return PublishError(_one_line(reference, message), transient=is_transient(message, detail.get("code")))


def _one_line(reference: str, message: str) -> str:
    """``push of REF refused: <first line>`` plus a hint when the cause is recognisable."""
    first = message.strip().splitlines()[0] if message.strip() else "no reason given"
    hint = next((h for words, h in _HINTS if any(w in first.lower() for w in words)), "")
    return f"push of {reference} refused: {first}" + (f" ({hint})" if hint else "")


def _check_transport(client: docker.DockerClient, registry: str, insecure: bool) -> None:
    """``--insecure`` must match dockerd's view; plain HTTP off loopback needs ``--insecure``."""
    config = client.info().get("RegistryConfig") or {}
    host = registry.rsplit(":", 1)[0].strip("[]")
    engine_insecure = _engine_insecure(config, registry, host)
    if insecure and not engine_insecure:
        raise PublishError(
            f"--insecure: dockerd would still use HTTPS for {registry}: add it to \"insecure-registries\" "
            "in /etc/docker/daemon.json and restart dockerd"
        )
    if engine_insecure and not insecure and not _is_loopback(host):
        raise PublishError(f"dockerd talks plain HTTP to {registry}: pass --insecure to publish there anyway")


def _engine_insecure(config: Mapping[str, Any], registry: str, host: str) -> bool:
    index = (config.get("IndexConfigs") or {}).get(registry)
    if index is not None:
        return not index.get("Secure", True)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(cidr) for cidr in config.get("InsecureRegistryCIDRs") or [])


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _image_id(client: docker.DockerClient, reference: str) -> str | None:
    try:
        return str(client.images.get(reference).id)
    except docker.errors.ImageNotFound:
        return None


def _restore_tags(client: docker.DockerClient, repository: str, previous: Mapping[str, str | None]) -> None:
    """Put the registry-prefixed tags back as they were before this publish."""
    for tag, old_id in previous.items():
        reference = f"{repository}:{tag}"
        if old_id is not None:
            client.images.get(old_id).tag(repository, tag)
        elif _image_id(client, reference) is not None:
            client.images.remove(reference, noprune=True)


def publish_platforms(
    images: Mapping[str, str],
    name: str,
    registry: str,
    *,
    latest: bool = True,
    insecure: bool = False,
    auth: dict[str, str] | None = None,
    retries: int = 3,
) -> list[Pushed]:
    """Push one image per platform (``{"linux/arm64": image, ...}``) and one OCI index per release tag.

    Returns the index under each release tag first (immutable one first), then each member."""
    from boxwright.pipeline.index import push_index

    if is_dry():
        log.info("would push %s to %s as <version>-<revision>-<arch> each, then one OCI index per release "
                 "tag (buildah)", ", ".join(images.values()), registry_repository(registry, name))
        return []
    client = docker_client()
    labels = {}
    for platform_name, image in images.items():
        build = f"./kit build-image --name {name} --platform {platform_name}"
        labels[platform_name] = _local_image(client, image, build).labels
    sources = {(found.get(VERSION_LABEL), found.get(REVISION_LABEL)) for found in labels.values()}
    if len(sources) != 1:
        found_text = ", ".join(f"{v}@{r}" for v, r in sorted(sources, key=str))
        raise PublishError(f"the platforms' images come from different versions or commits: {found_text}")
    tags = release_tags(next(iter(labels.values())), latest=latest)  # the first (host) image's
    credentials = auth or registry_auth_from_env()
    members: list[Pushed] = []
    for platform_name, image in images.items():
        arch = platform_name.split("/", 1)[1]
        members += publish(image, name, registry, insecure=insecure, auth=credentials, retries=retries,
                           tags=[f"{revision_tag(labels[platform_name])}-{arch}"])
    repository = registry_repository(registry, name)
    host = registry.rsplit(":", 1)[0].strip("[]")
    digest = push_index([m.reference for m in members], [f"{repository}:{tag}" for tag in tags],
                        plain_http=insecure or _is_loopback(host), auth=credentials, registry=registry)
    return [Pushed(f"{repository}:{tag}", digest, 0) for tag in tags] + members


def publish_definition(name: str, registry: str, **options: Any) -> list[Pushed]:
    """Publish what ``build-image`` made from ``images/NAME``: the local ``boxwright/NAME:<version>``,
    or, for several platforms, each ``boxwright/NAME:<version>-<arch>`` under one index."""
    from boxwright.image.build import arch_tag, image_repository
    from boxwright.image.definition import load_image

    if not registry:
        raise PublishError("no registry given: pass --registry HOST:PORT")
    definition = load_image(name)
    if len(definition.targets) > 1:
        images = {p.name: f"{image_repository(name)}:{arch_tag(definition.version, p)}"
                  for p in definition.targets}
        return publish_platforms(images, name, registry, **options)
    return publish(f"{image_repository(name)}:{definition.version}", name, registry, **options)


def _local_image(client: docker.DockerClient, image: str, build: str) -> docker.models.images.Image:
    """``image`` in the local engine; one line naming the command that builds it when it is not there."""
    try:
        return client.images.get(image)
    except docker.errors.ImageNotFound:
        raise PublishError(f"no local image {image} (build it first: {build})") from None
