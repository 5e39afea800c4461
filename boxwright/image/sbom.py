"""The software bill of materials: the Debian packages inside an image, as CycloneDX JSON.

The SBOM is attached in the last build step, *before* the image is tested, so
the image that passed its tests is the image that gets published:

* the file goes inside the image at :data:`SBOM_PATH` (``docker run IMAGE cat
  /usr/share/boxwright/sbom.cdx.json`` works anywhere the image goes);
* its sha256 goes into the label :data:`SBOM_LABEL`, so ``docker inspect`` and a
  registry's config blob show which SBOM belongs to the image without running it.

The document is deterministic (sorted, no timestamps): the same packages give
the same bytes, so a rebuild of unchanged inputs is a build-cache hit.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import tarfile
import urllib.parse
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors

from boxwright import __version__
from boxwright.engine import stream_build
from boxwright.errors import BuildError, EngineError
from boxwright.platforms import Platform, host_platform
from boxwright.provenance import source_date_epoch
from boxwright.render import render_template

__all__ = [
    "SBOM_LABEL",
    "SBOM_PATH",
    "Package",
    "attach_sbom",
    "cyclonedx",
    "image_packages",
    "parse_dpkg_query",
    "read_sbom",
    "sbom_bytes",
]

SBOM_PATH = "/usr/share/boxwright/sbom.cdx.json"
SBOM_LABEL = "io.boxwright.sbom.sha256"
#: One line per package known to dpkg; the status filter keeps installed ones.
DPKG_FORMAT = "${db:Status-Abbrev}\\t${Package}\\t${Version}\\t${Architecture}\\t${source:Package}\\n"


@dataclass(frozen=True, order=True)
class Package:
    """One installed Debian package."""

    name: str
    version: str
    architecture: str
    source: str

    @property
    def purl(self) -> str:
        """The package URL (``pkg:deb/debian/NAME@VERSION?arch=ARCH``)."""
        version = urllib.parse.quote(self.version, safe=".-_~")
        return f"pkg:deb/debian/{self.name}@{version}?arch={self.architecture}"


def parse_dpkg_query(output: str) -> list[Package]:
    """The installed packages in ``dpkg-query -W -f DPKG_FORMAT`` output, sorted by name."""
    packages = []
    for line in output.splitlines():
        if not line.strip():
            continue
        status, name, version, architecture, source = line.split("\t")
        if status[1:2] != "i":  # not installed: config files only, half-removed, ...
            continue
        packages.append(Package(name, version, architecture, source or name))
    return sorted(packages)


def image_packages(client: docker.DockerClient, image: str) -> list[Package]:
    """Run ``dpkg-query`` in a throw-away container of ``image`` (no network)."""
    try:
        output = client.containers.run(
            image, ["-W", "-f", DPKG_FORMAT], entrypoint=["dpkg-query"],
            network_mode="none", remove=True, stdout=True, stderr=True,
        )
    except docker.errors.ContainerError as error:
        raise BuildError(f"dpkg-query failed in {image}: {error.stderr!r}") from None
    except docker.errors.APIError as error:
        raise EngineError(f"could not run dpkg-query in {image}: {error.explanation}") from None
    packages = parse_dpkg_query(output.decode())
    if not packages:
        raise BuildError(f"dpkg-query found no installed packages in {image}")
    return packages


def cyclonedx(name: str, version: str, packages: list[Package]) -> dict[str, Any]:
    """A minimal CycloneDX 1.5 document: the image as the subject, one component per package."""
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {
            "component": {"type": "container", "name": name, "version": version},
            "tools": {"components": [{"type": "application", "name": "boxwright", "version": __version__}]},
        },
        "components": [
            {
                "type": "library",
                "bom-ref": package.purl,
                "name": package.name,
                "version": package.version,
                "purl": package.purl,
                "properties": [
                    {"name": "debian:architecture", "value": package.architecture},
                    {"name": "debian:source", "value": package.source},
                ],
            }
            for package in sorted(packages)
        ],
    }


def sbom_bytes(document: dict[str, Any]) -> bytes:
    """The canonical serialisation (what the label's sha256 is taken over)."""
    return (json.dumps(document, indent=1, sort_keys=True) + "\n").encode()


def attach_sbom(
    client: docker.DockerClient, image_id: str, name: str, version: str, tag: str,
    platform: Platform | None = None,
) -> str:
    """Build ``image_id`` + its SBOM file + the SBOM label, tag it ``tag``; return the new image id."""
    document = sbom_bytes(cyclonedx(name, version, image_packages(client, image_id)))
    digest = hashlib.sha256(document).hexdigest()
    dockerfile = render_template(
        "Dockerfile.sbom.j2", {"image": image_id, "file": "sbom.cdx.json", "path": SBOM_PATH}
    ).encode()
    context = _tar({"Dockerfile": dockerfile, "sbom.cdx.json": document})
    return stream_build(
        client, f"the SBOM step of {tag}", level=logging.DEBUG,
        fileobj=context, custom_context=True, tag=tag, labels={SBOM_LABEL: digest},
        platform=(platform or host_platform()).name,
    )


def read_sbom(client: docker.DockerClient, image: str) -> bytes:
    """The SBOM file inside ``image`` (checked against its label)."""
    try:
        container = client.containers.create(image, entrypoint=["true"], network_disabled=True)
    except docker.errors.APIError as error:
        raise EngineError(f"could not open {image}: {error.explanation}") from None
    try:
        stream, _ = container.get_archive(SBOM_PATH)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
            member = archive.extractfile(archive.getmembers()[0])
            data = member.read() if member else b""
    except docker.errors.NotFound:
        raise BuildError(f"{image} has no SBOM at {SBOM_PATH}") from None
    finally:
        container.remove(force=True)
    label = client.images.get(image).labels.get(SBOM_LABEL)
    if label != hashlib.sha256(data).hexdigest():
        raise BuildError(f"{image}: the SBOM at {SBOM_PATH} does not match its label {SBOM_LABEL}")
    return data


def _tar(files: dict[str, bytes]) -> io.BytesIO:
    """An in-memory build context with fixed owners and mtimes (reproducible layers)."""
    buffer = io.BytesIO()
    mtime = source_date_epoch()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), mtime, 0o644
            archive.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer
