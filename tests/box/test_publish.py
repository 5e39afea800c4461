"""Publishing a box catalog to a real S3 server and to a directory behind a real web server,
then consuming it with real Vagrant: box add, outdated, update, and a checksum failure.

The ``.box`` files are small but real libvirt boxes (metadata.json, Vagrantfile, a qcow2
``box.img``): ``vagrant box add`` unpacks and registers them without booting anything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import urllib.request
from pathlib import Path

import pytest

from boxwright.bench.servers import serve_directory
from boxwright.box.catalog import add_version, provider_entry, read_catalog, sha256_file, write_catalog
from boxwright.box.publish import DirTarget, S3Target, parse_target, publish_box
from boxwright.errors import CatalogError, PublishError, UsageError
from support.tar import tar_of

ROOT = Path(__file__).resolve().parents[2]
NAME = "pubtest"
BOX = f"boxwright/{NAME}"


def make_box(dist: Path, version: str) -> Path:
    """A libvirt .box for ``version`` in ``dist``, added to ``dist/pubtest.json``."""
    target = dist / NAME / version
    target.mkdir(parents=True)
    image = target / "box.img"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(image), "1G"], check=True)
    box = target / f"{NAME}-{version}-libvirt-amd64.box"
    members = {
        "metadata.json": json.dumps({"provider": "libvirt", "format": "qcow2", "virtual_size": 1}),
        "Vagrantfile": f"# {BOX} {version}\nVagrant.configure('2') {{ |config| }}\n",
        "info.json": json.dumps({"name": BOX, "version": version}),
    }
    box.write_bytes(tar_of(members))
    with tarfile.open(box, "a") as tar:
        tar.add(image, "box.img")
    image.unlink()
    catalog = dist / f"{NAME}.json"
    write_catalog(catalog, add_version(read_catalog(catalog, BOX, "publish test box"), version,
                                       provider_entry(box, sha256_file(box))))
    return box


class VagrantHome:
    """Real ``vagrant`` with its own VAGRANT_HOME (nothing leaks into the user's)."""

    def __init__(self, home: Path) -> None:
        self.env = dict(os.environ, VAGRANT_HOME=str(home), VAGRANT_NO_COLOR="1",
                        VAGRANT_CHECKPOINT_DISABLE="1", VAGRANT_BOX_UPDATE_CHECK_DISABLE="1")
        self.cwd = home.parent

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["vagrant", *args], env=self.env, cwd=self.cwd, capture_output=True, text=True,
                              timeout=300)

    def ok(self, *args: str) -> str:
        done = self.run(*args)
        assert done.returncode == 0, f"vagrant {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def versions(self) -> list[str]:
        lines = self.ok("box", "list").splitlines()
        return sorted(line.split("(")[1].split(",")[1].strip(" )") for line in lines if line.startswith(BOX))


@pytest.fixture
def vagrant(tmp_path) -> VagrantHome:
    (tmp_path / "vagrant.d").mkdir()
    return VagrantHome(tmp_path / "vagrant.d")


@pytest.fixture
def dist(tmp_path) -> Path:
    return tmp_path / "dist" / "boxes"


def kit_publish(*args: str, env: dict[str, str], dist: Path) -> subprocess.CompletedProcess[str]:
    """The publish-box task as a user runs it (the invoke of this venv, in this checkout)."""
    code = ("import sys; from invoke import Program; import tasks; "
            "Program(namespace=tasks.ns).run(['invoke', 'publish-box', *sys.argv[1:]])")
    assert dist.name == "boxes"  # BOXWRIGHT_DIST_DIR names dist/, the boxes are in dist/boxes/
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True,
                          env={**env, "BOXWRIGHT_DIST_DIR": str(dist.parent)}, text=True, timeout=120)


def test_targets_are_s3_urls_or_directories(tmp_path):
    assert parse_target("s3://bucket/some/prefix/") == S3Target("bucket", "some/prefix")
    assert parse_target("s3://bucket") == S3Target("bucket", "")
    assert parse_target(str(tmp_path)) == DirTarget(tmp_path)
    assert parse_target(tmp_path.as_uri()) == DirTarget(tmp_path)
    with pytest.raises(UsageError, match="no bucket"):
        parse_target("s3:///prefix")
    with pytest.raises(UsageError, match="expected s3://"):
        parse_target("ftp://host/x")


def test_a_directory_needs_its_public_url(tmp_path, dist):
    make_box(dist, "0.1.1")
    with pytest.raises(UsageError, match="needs --base-url"):
        publish_box(NAME, str(tmp_path), dist=dist)
    with pytest.raises(CatalogError, match="no such catalog"):
        publish_box("other", str(tmp_path), dist=dist, base_url="http://x")


def test_s3_round_trip_with_vagrant_add_outdated_update(s3_server, dist, vagrant, monkeypatch):
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    to = f"s3://{s3_server.bucket}/round-trip"
    make_box(dist, "0.1.1")
    first = publish_box(NAME, to, dist=dist, endpoint=s3_server.endpoint)
    assert first.catalog_url == f"{s3_server.endpoint}/{s3_server.bucket}/round-trip/{NAME}/catalog.json"
    assert first.uploaded == [f"round-trip/{NAME}/0.1.1/{NAME}-0.1.1-libvirt-amd64.box"]
    with urllib.request.urlopen(first.catalog_url) as response:  # anonymous, as Vagrant reads it
        assert response.headers["Content-Type"] == "application/json"
        catalog = json.load(response)
    provider = catalog["versions"][0]["providers"][0]
    assert provider["url"].startswith(f"{s3_server.endpoint}/{s3_server.bucket}/round-trip/{NAME}/0.1.1/")
    assert provider["checksum_type"] == "sha256"
    assert provider["checksum"] == sha256_file(dist / NAME / "0.1.1" / f"{NAME}-0.1.1-libvirt-amd64.box")

    vagrant.ok("box", "add", first.catalog_url)
    assert vagrant.versions() == ["0.1.1"]
    assert "0.1.1" in vagrant.ok("box", "outdated", "--global")

    make_box(dist, "0.1.2")
    second = publish_box(NAME, to, dist=dist, endpoint=s3_server.endpoint)
    assert second.uploaded == [f"round-trip/{NAME}/0.1.2/{NAME}-0.1.2-libvirt-amd64.box"]
    assert second.already == [f"round-trip/{NAME}/0.1.1/{NAME}-0.1.1-libvirt-amd64.box"]
    outdated = vagrant.ok("box", "outdated", "--global")
    assert "outdated" in outdated and "0.1.2" in outdated, outdated
    vagrant.ok("box", "update", "--box", BOX, "--provider", "libvirt")
    assert vagrant.versions() == ["0.1.1", "0.1.2"]
    assert "is up to date" in vagrant.ok("box", "outdated", "--global")


def test_directory_behind_a_web_server_and_a_corrupted_box(tmp_path, dist, vagrant):
    served = tmp_path / "www"
    served.mkdir()
    make_box(dist, "0.2.1")
    with serve_directory(served) as url:
        base = f"{url}/boxes"
        (served / "boxes").mkdir()
        result = publish_box(NAME, str(served / "boxes"), dist=dist, base_url=base)
        assert result.catalog_url == f"{base}/{NAME}/catalog.json"
        assert not [p for p in served.rglob("*") if ".boxwright-tmp-" in p.name]
        vagrant.ok("box", "add", result.catalog_url)
        assert vagrant.versions() == ["0.2.1"]
        vagrant.ok("box", "remove", BOX, "--force")

        published = served / "boxes" / NAME / "0.2.1" / f"{NAME}-0.2.1-libvirt-amd64.box"
        data = bytearray(published.read_bytes())
        data[-1] ^= 0xFF  # same size, one bit pattern off: only the checksum can tell
        published.write_bytes(bytes(data))
        failed = vagrant.run("box", "add", result.catalog_url)
        assert failed.returncode != 0
        assert "checksum" in (failed.stdout + failed.stderr).lower()
        assert vagrant.versions() == []


def test_a_published_version_is_never_replaced(tmp_path, dist):
    make_box(dist, "0.3.1")
    publish_box(NAME, str(tmp_path), dist=dist, base_url="http://example.invalid/b")
    box = dist / NAME / "0.3.1" / f"{NAME}-0.3.1-libvirt-amd64.box"
    box.write_bytes(box.read_bytes() + b"\0" * 512)
    catalog = json.loads((dist / f"{NAME}.json").read_text())
    catalog["versions"][0]["providers"][0]["checksum"] = sha256_file(box)
    (dist / f"{NAME}.json").write_text(json.dumps(catalog))
    before = (tmp_path / NAME / "catalog.json").read_bytes()
    with pytest.raises(PublishError, match="already published with another checksum"):
        publish_box(NAME, str(tmp_path), dist=dist, base_url="http://example.invalid/b")
    assert (tmp_path / NAME / "catalog.json").read_bytes() == before


@pytest.mark.parametrize("problem", ["wrong secret", "unknown key", "missing bucket", "unreachable",
                                     "no credentials"])
def test_s3_failures_are_one_line_and_leave_the_old_catalog(s3_server, tmp_path, problem):
    dist = tmp_path / "dist" / "boxes"
    make_box(dist, "0.4.1")
    to = f"s3://{s3_server.bucket}/failures-{problem.replace(' ', '-')}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(s3_server.env(), AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    good = kit_publish("--to", to, "--box", NAME, "--endpoint", s3_server.endpoint, env=env, dist=dist)
    assert good.returncode == 0, good.stderr
    catalog_key = f"{to.split('/', 3)[3]}/{NAME}/catalog.json"
    before = s3_server.client().get_object(Bucket=s3_server.bucket, Key=catalog_key)["Body"].read()
    make_box(dist, "0.4.2")
    endpoint, expected = s3_server.endpoint, ""
    if problem == "wrong secret":
        env["AWS_SECRET_ACCESS_KEY"] = "not-the-secret"
        expected = "refused the credentials"
    elif problem == "unknown key":
        env["AWS_ACCESS_KEY_ID"] = "nobody"
        expected = "refused the credentials"
    elif problem == "missing bucket":
        to = "s3://no-such-bucket/x"
        expected = "no bucket 'no-such-bucket'"
    elif problem == "unreachable":
        endpoint = "http://127.0.0.1:9"  # discard port: nothing listens
        expected = "cannot reach the S3 endpoint http://127.0.0.1:9"
    else:
        del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
        expected = "no S3 credentials"
    failed = kit_publish("--to", to, "--box", NAME, "--endpoint", endpoint, env=env, dist=dist)
    assert failed.returncode != 0
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], failed.stderr
    assert s3_server.env()["AWS_SECRET_ACCESS_KEY"] not in failed.stderr + failed.stdout
    after = s3_server.client().get_object(Bucket=s3_server.bucket, Key=catalog_key)["Body"].read()
    assert after == before and "0.4.2" not in after.decode()
