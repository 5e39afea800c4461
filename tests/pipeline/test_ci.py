"""ci against a real registry: it publishes only what passed, and always leaves its report."""

from __future__ import annotations

import json
import shutil

import pytest

from boxwright import paths
from boxwright.errors import BuildError
from boxwright.image.sbom import read_sbom
from boxwright.pipeline.ci import ci_image, run_ci
from boxwright.pipeline.publish import release_tags, revision_tag
from boxwright.platforms import host_platform
from boxwright.provenance import INPUT_LABEL
from support.registry import manifest_digest, repository_tags

FIXTURES = paths.images_dir().parent / "tests" / "fixtures" / "ci"
PASSING = [str(FIXTURES / "passing_selection.py")]
FAILING = [str(FIXTURES / "failing_selection.py")]
#: The emulated arm64 build is not in ./kit test yet (README.md, architectures).
HOST_ONLY = [host_platform().name]


def test_a_failing_test_blocks_the_publish(tmp_path, registry, tags_for):
    report = ci_image("baseimage", registry=registry.address, tests=FAILING, report_dir=tmp_path,
                      platforms=HOST_ONLY)
    assert report.status == "failed"
    assert report.failed_stage == "test"
    assert report.tag.startswith("boxwright/baseimage:")  # named, not pushed
    assert report.tests["passed"] == 1 and report.tests["failed"] == 1
    assert "1 of 2 image tests failed" in report.message
    assert repository_tags(registry.address, "boxwright/baseimage") == []
    assert tags_for(registry.address) == []
    assert report.published == [] and report.digest is None
    saved = json.loads((tmp_path / "baseimage.json").read_text())
    assert saved["status"] == "failed" and saved["tests"]["failed"] == 1
    assert "test_image_has_a_file_it_does_not_have" in (tmp_path / "baseimage.pytest.log").read_text()


def test_no_selected_test_blocks_the_publish(tmp_path, registry):
    report = ci_image("baseimage", registry=registry.address, tests=PASSING, keyword="no_such_test",
                      report_dir=tmp_path,
                      platforms=HOST_ONLY)
    assert report.status == "failed"
    assert "no image tests were selected" in report.message
    assert repository_tags(registry.address, "boxwright/baseimage") == []


@pytest.mark.arm64  # builds baseimage's linux/arm64 image under emulation
def test_passing_tests_publish_and_the_report_says_what(tmp_path, registry, engine):
    report = ci_image("baseimage", registry=registry.address, tests=PASSING, report_dir=tmp_path)
    assert report.status == "published", report.message
    image = engine.images.get(report.image_id)
    tags = release_tags(image.labels)
    assert report.release_tags == tags
    assert report.tag == f"{registry.address}/boxwright/baseimage:{tags[0]}"
    assert report.digest == manifest_digest(registry.address, "boxwright/baseimage", tags[0])
    # baseimage lists two platforms: each went up under its own tag, the release tags are one index.
    assert set(report.platforms) == {"linux/amd64", "linux/arm64"}
    assert report.platforms["linux/amd64"] == report.image_id
    arch_tags = [f"{revision_tag(engine.images.get(found).labels)}-{name.split('/')[1]}"
                 for name, found in report.platforms.items()]
    assert repository_tags(registry.address, "boxwright/baseimage") == sorted(tags + arch_tags)
    saved = json.loads((tmp_path / "baseimage.json").read_text())
    assert saved["size"] == image.attrs["Size"] > 0
    assert saved["build_seconds"] >= 0
    assert saved["tests"] == {"passed": 2, "failed": 0, "errors": 0, "skipped": 0,
                              "seconds": saved["tests"]["seconds"], "exit_code": 0, "total": 2}
    assert saved["git_revision"] == image.labels["org.opencontainers.image.revision"]
    assert saved["input_hash"] == image.labels[INPUT_LABEL]
    assert (tmp_path / saved["sbom"]["file"]).read_bytes() == read_sbom(engine, report.image_id)


def test_without_a_registry_ci_tests_and_publishes_nothing(tmp_path):
    report = ci_image("baseimage", tests=PASSING, report_dir=tmp_path,
                      platforms=HOST_ONLY)
    assert report.status == "passed"
    assert report.published == []


def test_all_keeps_going_and_lists_every_failure(tmp_path, registry):
    images = tmp_path / "images"
    shutil.copytree(paths.images_dir() / "baseimage", images / "baseimage", symlinks=True)
    (images / "broken").mkdir()
    (images / "broken" / "image.toml").write_text('version = "0.0.1"\nbootstrap = { suite = "trixie" }\n'
                                                  'pakages = ["runit"]\n')
    reports = tmp_path / "reports"
    with pytest.raises(BuildError) as caught:
        run_ci(None, images_dir=images, registry=registry.address, tests=PASSING,
               report_dir=reports, platforms=HOST_ONLY)
    message = str(caught.value)
    assert message.startswith("ci failed for 1 of 2 image(s), which were not published")
    assert "broken: build:" in message and "did you mean 'packages'" in message
    assert json.loads((reports / "baseimage.json").read_text())["status"] == "published"
    assert json.loads((reports / "broken.json").read_text())["failed_stage"] == "build"
