"""The CI pipeline for images: build → image tests → publish, and a report of it all.

Nothing is published unless every selected test passed against the exact image
that was built (``BOXWRIGHT_TEST_IMAGE_ID``), and every run leaves a trail in
``build/ci/``: ``<name>.json`` (the report), ``<name>.sbom.json``,
``<name>.junit.xml`` and ``<name>.pytest.log``.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from boxwright import PROJECT_ROOT
from boxwright import paths as where
from boxwright.atomic import atomic_file
from boxwright.engine import docker_client
from boxwright.errors import BoxwrightError, BuildError
from boxwright.image.base import HASH_LABEL, human_size
from boxwright.image.build import build_all, build_image, image_repository
from boxwright.image.definition import image_names
from boxwright.image.sbom import SBOM_LABEL, SBOM_PATH, read_sbom
from boxwright.pipeline.publish import publish, publish_platforms, release_tags, revision_tag
from boxwright.platforms import Platform
from boxwright.proc import is_dry, stream
from boxwright.progress import raw
from boxwright.provenance import DIRTY_LABEL, INPUT_LABEL

__all__ = [
    "TEST_IMAGE_ENV",
    "TEST_IMAGE_ID_ENV",
    "CiReport",
    "TestCounts",
    "ci_image",
    "image_id_env",
    "image_test_argv",
    "reports_dir",
    "run_ci",
    "summary",
]

logger = logging.getLogger(__name__)


def reports_dir() -> Path:
    """Where CI reports go: ``build/ci/``."""
    return where.build_dir() / "ci"


#: The definition the image tests check (default: baseimage).
TEST_IMAGE_ENV = "BOXWRIGHT_TEST_IMAGE"
#: The exact image to test instead of building one (set by ``ci``: test what gets published).
TEST_IMAGE_ID_ENV = "BOXWRIGHT_TEST_IMAGE_ID"
#: Where the image tests are taken from (with ``IMAGE_MARKERS``).
DEFAULT_TESTS = ("tests",)
#: The image tests: the suites of tests/image/, tests/services/ and tests/derived/ (markers by folder).
#: tests/pipeline is the pipeline's own suite and never part of them (it would recurse).
IMAGE_MARKERS = "image or services or derived"


def image_id_env(platform: Platform) -> str:
    """Where ``ci`` hands the tests an image id: the host's in BOXWRIGHT_TEST_IMAGE_ID, another
    platform's with its arch appended (BOXWRIGHT_TEST_IMAGE_ID_ARM64)."""
    return TEST_IMAGE_ID_ENV if platform.is_host else f"{TEST_IMAGE_ID_ENV}_{platform.debian.upper()}"


@dataclass
class TestCounts:
    """What pytest reported (from its JUnit XML)."""

    __test__ = False  # not a pytest test class

    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    seconds: float = 0.0
    exit_code: int = -1

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.errors + self.skipped

    @property
    def ok(self) -> bool:
        """Every selected test passed (and there was at least one)."""
        return self.exit_code == 0 and self.failed == self.errors == 0 and self.passed > 0

    def describe(self) -> str:
        text = f"{self.passed} passed, {self.failed} failed, {self.errors} errors, {self.skipped} skipped"
        return f"{text} in {self.seconds:.1f} s"

    @classmethod
    def from_junit(cls, path: Path, exit_code: int) -> TestCounts:
        if not path.is_file():
            return cls(exit_code=exit_code)
        root = ET.parse(path).getroot()
        suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
        counts = cls(exit_code=exit_code)
        for suite in suites:
            tests = int(suite.get("tests", 0))
            failed, errors = int(suite.get("failures", 0)), int(suite.get("errors", 0))
            skipped = int(suite.get("skipped", 0))
            counts.failed += failed
            counts.errors += errors
            counts.skipped += skipped
            counts.passed += tests - failed - errors - skipped
            counts.seconds += float(suite.get("time", 0))
        return counts


@dataclass
class CiReport:
    """The machine-readable record of one image's CI run (``build/ci/<name>.json``)."""

    image: str
    status: str = "failed"  # "published", "passed" (tested, no registry), "failed" or "planned" (--dry)
    failed_stage: str | None = None  # "build", "test" or "publish"
    message: str = ""
    version: str = ""
    tag: str = ""
    release_tags: list[str] = field(default_factory=list)
    image_id: str = ""
    digest: str | None = None
    size: int = 0
    build_seconds: float = 0.0
    tests: dict[str, Any] = field(default_factory=dict)
    git_revision: str = ""
    git_dirty: bool | None = None
    input_hash: str = ""
    base_input_hash: str = ""
    sbom: dict[str, Any] = field(default_factory=dict)
    registry: str | None = None
    published: list[dict[str, str]] = field(default_factory=list)
    #: Every platform built: ``{"linux/arm64": image id, ...}`` (the host's is ``image_id``).
    platforms: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"


def image_test_argv(paths: Sequence[str], junit: Path, keyword: str = "") -> list[str]:
    """The pytest command line that runs the image tests (``IMAGE_MARKERS``, never tests/pipeline)."""
    argv = [sys.executable, "-m", "pytest", *paths, "-m", IMAGE_MARKERS, "--ignore=tests/pipeline",
            "-p", "no:cacheprovider", f"--junitxml={junit}", "-o", "junit_family=xunit2"]
    return [*argv, "-k", keyword] if keyword else argv


def run_image_tests(
    name: str, image_id: str, junit: Path, log: Path, *, paths: Sequence[str] = DEFAULT_TESTS,
    keyword: str = "", images_dir: Path | None = None,
    platform_ids: dict[Platform, str] | None = None,
) -> TestCounts:
    """Run the image tests against ``image_id`` (and each other platform's image in
    ``platform_ids``); pass pytest's output through and keep it in ``log``."""
    env = {TEST_IMAGE_ENV: name, TEST_IMAGE_ID_ENV: image_id,
           "BOXWRIGHT_IMAGES_DIR": str(images_dir or where.images_dir())}
    env.update({image_id_env(p): found for p, found in (platform_ids or {}).items() if not p.is_host})
    argv = image_test_argv(paths, junit, keyword)
    if is_dry():
        stream(argv, cwd=PROJECT_ROOT, env=env)
        return TestCounts(exit_code=0)
    junit.unlink(missing_ok=True)
    logger.info("testing %s (%s): %s", name, image_id[:19], " ".join(argv[1:]))
    with log.open("w", encoding="utf-8") as out:

        def show(text: str) -> None:
            out.write(text)
            raw(text)

        # Raw chunks, not lines: pytest's progress dots show up as each test finishes.
        result = stream(argv, on_chunk=show, cwd=PROJECT_ROOT, env=env, check=False)
    return TestCounts.from_junit(junit, result.code)


def ci_image(
    name: str,
    *,
    registry: str | None = None,
    insecure: bool = False,
    latest: bool = True,
    tests: Sequence[str] = DEFAULT_TESTS,
    keyword: str = "",
    images_dir: Path | None = None,
    report_dir: Path | None = None,
    platforms: Sequence[str] | None = None,
) -> CiReport:
    """Build, test and (with a registry, if every test passed) publish one image; write its report.

    ``platforms`` narrows the build to some of the definition's platforms (default: all of them)."""
    started = time.monotonic()
    report = CiReport(image=name, registry=registry)
    report_dir = report_dir or reports_dir()
    if is_dry():
        return _plan(report, tests, keyword, images_dir, report_dir, latest, insecure)
    report_dir.mkdir(parents=True, exist_ok=True)
    try:
        report.failed_stage = "build"
        every = build_all(name, platforms=list(platforms) if platforms else None, images_dir=images_dir)
        built = every[0]  # the host's platform
        report.platforms = {r.platform.name: r.image_id for r in every}
        _record_build(report, built.image_id, built.size, built.seconds, report_dir, latest)
        report.failed_stage = "test"
        counts = run_image_tests(
            name, built.image_id, report_dir / f"{name}.junit.xml", report_dir / f"{name}.pytest.log",
            paths=tests, keyword=keyword, images_dir=images_dir,
            platform_ids={r.platform: r.image_id for r in every},
        )
        report.tests = {**asdict(counts), "total": counts.total}
        if not counts.ok:
            raise BuildError(_test_failure(counts, report_dir / f"{name}.pytest.log"))
        report.status = "passed"
        if registry:
            report.failed_stage = "publish"
            if len(every) > 1:  # one OCI index per tag over every platform
                pushed = publish_platforms(report.platforms, name, registry, latest=latest, insecure=insecure)
            else:
                pushed = publish(built.image_id, name, registry, latest=latest, insecure=insecure)
            report.published = [{"reference": p.reference, "digest": p.digest} for p in pushed]
            report.tag, report.digest = pushed[0].reference, pushed[0].digest
            report.status = "published"
        report.failed_stage = None
    except BoxwrightError as error:
        report.status, report.message = "failed", str(error)
    report.seconds = round(time.monotonic() - started, 1)
    with atomic_file(report_dir / f"{name}.json") as tmp:
        tmp.write_text(report.to_json())
    logger.info("%s", summary(report, report_dir))
    return report


def _plan(report: CiReport, tests: Sequence[str], keyword: str, images_dir: Path | None,
          report_dir: Path, latest: bool, insecure: bool) -> CiReport:
    """Dry run: what each stage would do (build, test, publish); nothing is built or written."""
    name = report.image
    built = build_image(name, images_dir=images_dir)
    run_image_tests(name, "<the built image id>", report_dir / f"{name}.junit.xml",
                    report_dir / f"{name}.pytest.log", paths=tests, keyword=keyword, images_dir=images_dir)
    if report.registry:
        publish(built.tags[0], name, report.registry, latest=latest, insecure=insecure)
    logger.info("would write the report %s", report_dir / f"{name}.json")
    report.status, report.failed_stage = "planned", None
    return report


def run_ci(
    names: Sequence[str] | None = None, *, images_dir: Path | None = None, **options: Any
) -> list[CiReport]:
    """:func:`ci_image` for each name (default: every definition); keep going, then fail with a list."""
    selected = list(names or image_names(images_dir))
    reports = [ci_image(name, images_dir=images_dir, **options) for name in selected]
    if len(reports) > 1:
        logger.info("%s", table(reports))
    failures = [r for r in reports if r.status == "failed"]
    if failures:
        lines = "\n".join(f"  {r.image}: {r.failed_stage}: {r.message.splitlines()[0]}" for r in failures)
        raise BuildError(f"ci failed for {len(failures)} of {len(reports)} image(s), "
                         f"which were not published:\n{lines}")
    return reports


def summary(report: CiReport, report_dir: Path | None = None) -> str:
    """The one-screen human summary of a report."""
    report_dir = report_dir or reports_dir()
    state = report.status.upper() + (f" at {report.failed_stage}" if report.failed_stage else "")
    lines = [f"ci {report.image}: {state}"]
    if report.image_id:
        lines.append(f"  image    {report.tag}  {report.image_id[:19]}  {human_size(report.size)}, "
                     f"built in {report.build_seconds:.1f} s")
        dirty = " (dirty tree)" if report.git_dirty else ""
        lines.append(f"  source   {report.git_revision[:12]}{dirty}  inputs {report.input_hash[:12]}")
    if report.sbom:
        lines.append(f"  sbom     {report.sbom['packages']} packages  {report_dir / report.sbom['file']}")
    if report.tests:
        t = report.tests
        lines.append(f"  tests    {t['passed']} passed, {t['failed']} failed, {t['errors']} errors, "
                     f"{t['skipped']} skipped in {t['seconds']:.1f} s")
    for item in report.published:
        lines.append(f"  pushed   {item['reference']}  {item['digest']}")
    if report.status == "passed":
        lines.append("  publish  skipped: no --registry given")
    if report.message:
        lines.append(f"  error    {report.message.splitlines()[0]}")
        lines += [f"           {line}" for line in report.message.splitlines()[1:6]]
    lines.append(f"  report   {report_dir / (report.image + '.json')}  ({report.seconds:.1f} s in all)")
    return "\n".join(lines)


def table(reports: Sequence[CiReport]) -> str:
    """One line per image for ``ci --all``."""
    width = max(len(r.image) for r in reports)
    rows = ["ci summary:"]
    for r in reports:
        tests = f"{r.tests.get('passed', 0)}/{r.tests.get('total', 0)} tests" if r.tests else "not tested"
        where = r.tag if r.status == "published" else r.image_id[:19] or "-"
        rows.append(f"  {r.image:<{width}}  {r.status:<9}  {tests:<14}  {where}")
    return "\n".join(rows)


def _record_build(
    report: CiReport, image_id: str, size: int, seconds: float, report_dir: Path, latest: bool
) -> None:
    """Fill the report from the built image's labels and attach its SBOM next to the report."""
    client = docker_client()
    labels = client.images.get(image_id).labels
    report.image_id, report.size, report.build_seconds = image_id, size, round(seconds, 1)
    report.version = labels.get("org.opencontainers.image.version", "")
    report.git_revision = labels.get("org.opencontainers.image.revision", "")
    report.git_dirty = labels.get(DIRTY_LABEL) == "true"
    report.input_hash, report.base_input_hash = labels.get(INPUT_LABEL, ""), labels.get(HASH_LABEL, "")
    tag = revision_tag(labels)
    report.release_tags = release_tags(labels, latest=latest)
    # The registry's name once published; until then the repository's (a name, not a local tag).
    report.tag = f"{image_repository(report.image)}:{tag}"
    sbom = read_sbom(client, image_id)
    sbom_file = report_dir / f"{report.image}.sbom.json"
    with atomic_file(sbom_file) as tmp:
        tmp.write_bytes(sbom)
    report.sbom = {
        "file": sbom_file.name, "sha256": labels[SBOM_LABEL], "path_in_image": SBOM_PATH,
        "packages": len(json.loads(sbom)["components"]),
    }


def _test_failure(counts: TestCounts, log: Path) -> str:
    if counts.exit_code == 5 or counts.total == 0:
        return f"no image tests were selected (pytest exit {counts.exit_code}); see {log}"
    if counts.failed or counts.errors:
        return f"{counts.failed + counts.errors} of {counts.total} image tests failed; see {log}"
    return f"pytest exited {counts.exit_code} ({counts.describe()}); see {log}"
