"""One multi-arch tag: each platform's image and one OCI image index per release tag, in a real registry.

The pulls are real ``docker pull --platform`` calls through the engine; the arm64 image
then runs under QEMU user emulation and must say aarch64.
"""

from __future__ import annotations

import json
import logging
import urllib.request

import pytest

from boxwright import PROJECT_ROOT
from boxwright.image.sbom import SBOM_LABEL
from boxwright.pipeline.index import INDEX_MEDIA_TYPE
from boxwright.pipeline.publish import publish_platforms, release_tags, revision_tag

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def fetch(address: str, path: str, accept: str) -> tuple[str, str, dict]:
    request = urllib.request.Request(f"http://{address}/v2/{path}", headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=10) as response:
        body = json.loads(response.read())
        return response.headers["Content-Type"], response.headers["Docker-Content-Digest"], body


@pytest.fixture(scope="module")
def platform_images(baseimage, arm64_image):
    return {"linux/amd64": baseimage, "linux/arm64": arm64_image}


def test_one_oci_index_per_tag_pulls_the_right_platform(engine, platform_images, registry):
    pushed = publish_platforms(platform_images, "baseimage", registry.address)
    labels = engine.images.get(platform_images["linux/amd64"]).labels
    tags = release_tags(labels)
    repository = f"{registry.address}/boxwright/baseimage"
    assert [p.reference for p in pushed[:3]] == [f"{repository}:{tag}" for tag in tags]
    assert [p.reference for p in pushed[3:]] == [
        f"{repository}:{revision_tag(engine.images.get(image).labels)}-{platform.split('/')[1]}"
        for platform, image in platform_images.items()
    ]

    for tag in tags:  # the same index under every release tag
        media_type, digest, index = fetch(registry.address, f"boxwright/baseimage/manifests/{tag}",
                                          INDEX_MEDIA_TYPE)
        assert (media_type, index["mediaType"]) == (INDEX_MEDIA_TYPE, INDEX_MEDIA_TYPE)
        assert digest == pushed[0].digest
    platforms = {(m["platform"]["os"], m["platform"]["architecture"]): m for m in index["manifests"]}
    assert set(platforms) == {("linux", "amd64"), ("linux", "arm64")}
    assert {m["mediaType"] for m in index["manifests"]} == {OCI_MANIFEST}

    version = f"{repository}:{labels['org.opencontainers.image.version']}"
    arm = engine.images.pull(version, platform="linux/arm64")
    assert arm.attrs["Architecture"] == "arm64"
    assert engine.containers.run(arm.id, ["uname", "-m"], remove=True, platform="linux/arm64") == b"aarch64\n"
    # The SBOM and OCI labels are the arm64 build's own, not the host's.
    arm_local = engine.images.get(platform_images["linux/arm64"]).labels
    assert arm.labels[SBOM_LABEL] == arm_local[SBOM_LABEL] != labels[SBOM_LABEL]
    assert arm.labels["org.opencontainers.image.revision"] == labels["org.opencontainers.image.revision"]

    amd = engine.images.pull(version)  # a plain pull on this amd64 host
    assert amd.attrs["Architecture"] == "amd64"
    assert amd.labels[SBOM_LABEL] == labels[SBOM_LABEL]
    assert engine.containers.run(amd.id, ["uname", "-m"], remove=True) == b"x86_64\n"


def test_images_of_different_commits_are_refused(engine, platform_images, registry, containers):
    """A stale arm64 image (another commit) must not be published under this commit's tags."""
    from boxwright.errors import PublishError

    stale = engine.images.get(platform_images["linux/arm64"])
    container = containers.run(stale.id, ["true"], platform="linux/arm64", detach=True)
    container.wait(timeout=120)
    other = container.commit(changes=["LABEL org.opencontainers.image.revision=0000000000000000"])
    try:
        with pytest.raises(PublishError) as caught:
            publish_platforms({"linux/amd64": platform_images["linux/amd64"], "linux/arm64": other.id},
                              "baseimage", registry.address)
        assert "come from different versions or commits" in str(caught.value)
        assert "\n" not in str(caught.value)
    finally:
        engine.images.remove(other.id, force=True)


def test_credentials_reach_buildah_in_a_file_that_is_gone_afterwards(
    platform_images, auth_registry, credentials, monkeypatch, capfd, caplog
):
    caplog.set_level(logging.INFO)
    monkeypatch.setenv("BOXWRIGHT_REGISTRY_USERNAME", credentials["username"])
    monkeypatch.setenv("BOXWRIGHT_REGISTRY_PASSWORD", credentials["password"])
    pushed = publish_platforms(platform_images, "baseimage", auth_registry.address, latest=False)
    assert len(pushed) == 2 + 2
    shown = capfd.readouterr()
    assert "--authfile=" in caplog.text  # the commands are logged ...
    assert credentials["password"] not in caplog.text + shown.out + shown.err  # ... the secret is not
    assert not list((PROJECT_ROOT / "build").glob("buildah-*"))
