"""ci's pure parts: the image tests' pytest command line, the counts read from JUnit XML."""

from __future__ import annotations

from pathlib import Path

from boxwright.pipeline.ci import TestCounts, image_test_argv


def test_image_tests_are_the_image_marked_ones_without_the_pipeline_s_own():
    argv = image_test_argv(["tests"], Path("/r/x.junit.xml"), keyword="labels")
    assert argv[1:5] == ["-m", "pytest", "tests", "-m"]
    assert argv[argv.index("-m", 2) + 1] == "image or services or derived" and \
         "--ignore=tests/pipeline" in argv
    assert "--junitxml=/r/x.junit.xml" in argv
    assert argv[-2:] == ["-k", "labels"]


def test_counts_from_junit(tmp_path):
    junit = tmp_path / "j.xml"
    junit.write_text('<testsuites><testsuite name="pytest" errors="1" failures="2" skipped="3" '
                     'tests="10" time="4.5"/></testsuites>')
    counts = TestCounts.from_junit(junit, exit_code=1)
    assert (counts.passed, counts.failed, counts.errors, counts.skipped, counts.total) == (4, 2, 1, 3, 10)
    assert not counts.ok
    assert TestCounts(passed=3, exit_code=0).ok
    assert not TestCounts(passed=0, exit_code=5).ok
