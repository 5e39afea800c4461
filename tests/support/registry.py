"""A read-only HTTP client for a distribution registry: the oracle the pipeline tests check pushes with."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping

__all__ = ["MANIFEST_TYPES", "manifest_digest", "repository_tags"]

#: What a pull asks for; the registry answers with the digest of what it stores.
MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
)


def _request(url: str, *, method: str = "GET", headers: Mapping[str, str] | None = None,
             timeout: float = 10) -> tuple[int, Mapping[str, str], bytes]:
    """One HTTP request; any status (401 and 404 included) is an answer, not an error."""
    request = urllib.request.Request(url, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def manifest_digest(address: str, repository: str, tag: str) -> str | None:
    """The digest the registry serves for ``repository:tag`` (None if it has no such tag)."""
    status, headers, _ = _request(
        f"http://{address}/v2/{repository}/manifests/{tag}", method="HEAD",
        headers={"Accept": ", ".join(MANIFEST_TYPES)},
    )
    return headers.get("Docker-Content-Digest") if status == 200 else None


def repository_tags(address: str, repository: str) -> list[str]:
    """The tags the registry holds for ``repository`` ([] if it never saw it)."""
    status, _, body = _request(f"http://{address}/v2/{repository}/tags/list")
    if status != 200:
        return []
    return sorted(json.loads(body).get("tags") or [])
