"""The GitHub Actions workflow: valid against GitHub's schema, and publishing only on tags."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from boxwright import PROJECT_ROOT

WORKFLOW = PROJECT_ROOT / ".github" / "workflows" / "images.yml"
ON_TAG = "startsWith(github.ref, 'refs/tags/')"


@pytest.fixture(scope="module")
def workflow():
    return YAML(typ="safe").load(WORKFLOW.read_text())


@pytest.fixture(scope="module")
def steps(workflow):
    return {step.get("name", ""): step for step in workflow["jobs"]["images"]["steps"]}


def test_matches_github_workflow_schema():
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_runs_on_pushes_and_tags(workflow):
    # YAML 1.1 reads the bare key `on` as True.
    triggers = workflow.get("on", workflow.get(True))
    assert triggers["push"]["branches"] == ["**"]
    assert triggers["push"]["tags"] == ["v*"]


def test_branches_build_and_test_without_publishing(steps):
    step = steps["Build and test every image (no publish on branches)"]
    assert step["if"] == "${{ !" + ON_TAG + " }}"
    assert step["run"].strip() == "sudo ./kit ci --all"


def test_only_tags_publish_with_registry_and_credentials_from_secrets(steps):
    publishing = [s for s in steps.values() if "--registry" in s.get("run", "")]
    assert len(publishing) == 1
    step = publishing[0]
    assert step["if"] == "${{ " + ON_TAG + " }}"
    assert './kit ci --all --registry "$BOXWRIGHT_REGISTRY"' in step["run"]
    assert step["env"] == {
        "BOXWRIGHT_REGISTRY": "${{ secrets.BOXWRIGHT_REGISTRY }}",
        "BOXWRIGHT_REGISTRY_USERNAME": "${{ secrets.BOXWRIGHT_REGISTRY_USERNAME }}",
        "BOXWRIGHT_REGISTRY_PASSWORD": "${{ secrets.BOXWRIGHT_REGISTRY_PASSWORD }}",
    }


def test_reports_are_kept_even_when_ci_fails(steps):
    step = steps["Keep the reports, SBOMs and test logs"]
    assert step["if"] == "${{ always() }}"
    assert step["with"]["path"] == "build/ci/"
