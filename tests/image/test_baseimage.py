"""The built image, checked in a running container (testinfra's docker:// backend)."""

from __future__ import annotations

import pytest

from boxwright.image.build import build_image
from boxwright.image.definition import load_image
from boxwright.platforms import host_platform
from boxwright.provenance import git_revision
from support.containers import SESSION
from support.image import image_under_test

#: baseimage, or the definition ``./kit ci`` is testing (e.g. baseimage-bookworm).
DEFINITION = load_image(image_under_test()[0])


@pytest.fixture(scope="module")
def host(baseimage, module_containers):
    container = module_containers.run(baseimage, ["sleep", "infinity"], detach=True)
    import testinfra

    return testinfra.get_host(f"docker://{container.id}")


def test_runs_a_shell(containers, baseimage):
    output = containers.run(baseimage, ["bash", "-c", "echo hello from $0"], remove=True)
    assert output == b"hello from bash\n"


def test_os_is_the_defined_suite(host):
    assert host.system_info.distribution == "debian"
    assert host.file("/etc/os-release").contains(DEFINITION.suite)


@pytest.mark.parametrize("package", DEFINITION.packages)
def test_defined_packages_installed(host, package):
    assert host.package(package).is_installed


@pytest.mark.parametrize("package", ["perl", "systemd", "libperl5.40"])
def test_heavy_packages_absent(host, package):
    assert not host.package(package).is_installed


def test_usr_is_merged(host):
    for name in ("bin", "sbin", "lib"):
        assert host.file(f"/{name}").is_symlink
        assert host.file(f"/{name}").linked_to == f"/usr/{name}"


def test_slim_no_docs_manuals_or_apt_lists(host):
    assert host.run("find /usr/share/man /usr/share/info -type f | wc -l").stdout.strip() == "0"
    docs = host.run("find /usr/share/doc -type f ! -name copyright | wc -l").stdout.strip()
    assert docs == "0"
    assert host.run("ls /var/lib/apt/lists | grep -v -e lock -e partial | wc -l").stdout.strip() == "0"
    assert host.run("find /usr/share/locale -name '*.mo' | wc -l").stdout.strip() == "0"


def test_dpkg_filters_stay_for_later_installs(host):
    assert host.file("/etc/dpkg/dpkg.cfg.d/99mmdebstrap").contains("path-exclude /usr/share/doc/")


def test_oci_labels(engine, baseimage):
    labels = engine.images.get(baseimage).labels
    assert labels["org.opencontainers.image.title"] == DEFINITION.name
    assert labels["org.opencontainers.image.version"] == DEFINITION.version
    assert labels["org.opencontainers.image.revision"] == git_revision()
    assert labels["org.opencontainers.image.created"].endswith("Z")
    assert labels["org.opencontainers.image.source"]
    assert labels["io.boxwright.base.input-hash"]


def test_version_latest_and_arch_tags_name_the_build(engine, baseimage):
    """Built under a repository of this session's own (boxwright/<name> is shared with every
    other checkout's builds, which move its tags at any time): a cache hit up to the SBOM layer
    (which names the repository), tagged three ways."""
    repository = f"boxwright-test/tags-{SESSION}"
    try:
        result = build_image(DEFINITION.name, repository=repository)
        arch = host_platform().debian
        expected = {f"{repository}:{DEFINITION.version}", f"{repository}:latest",
                    f"{repository}:{DEFINITION.version}-{arch}"}
        assert set(result.tags) == expected
        layers = engine.images.get(result.image_id).attrs["RootFS"]["Layers"]
        assert layers[:-1] == engine.images.get(baseimage).attrs["RootFS"]["Layers"][:-1]
        for tag in expected:
            assert engine.images.get(tag).id == result.image_id
    finally:
        for image in engine.images.list(name=repository):
            for tag in image.tags:
                engine.images.remove(tag, noprune=True)
