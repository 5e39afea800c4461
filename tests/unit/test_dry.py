"""``--dry``: every task prints the commands it would run and runs none.

Each task is called with invoke's MockContext (``run.dry``), with PATH emptied (any command
that really started would fail: there is no program to start), DOCKER_HOST pointing at no
socket (any talk to the engine would fail) and build/, dist/, bench/results pointing at empty
temporary directories that must stay empty.  A real ``./kit --dry build-box`` closes the loop.
"""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

import pytest
from invoke import Config, MockContext

import tasks
from boxwright import PROJECT_ROOT
from boxwright.box.catalog import add_version, provider_entry, read_catalog, sha256_file, write_catalog
from boxwright.engine import docker_client

#: Each task: its arguments and what its printed plan must name.
PLANS: dict[str, tuple[dict[str, object], list[str]]] = {
    "render": ({}, ["would render", "build/images/baseimage"]),
    "build-image": ({}, ["would run: SOURCE_DATE_EPOCH=", " mmdebstrap ", "would render",
                         "would build boxwright/baseimage:"]),
    "build-box": ({"name": "docker-host"}, [
        "would run: SOURCE_DATE_EPOCH=", " mmdebstrap ", "would run: qemu-img create",
        "would run: LIBGUESTFS_BACKEND=direct", "guestfish --no-progress-bars", "would run: qemu-img convert",
        "would add version",
    ]),
    "publish-box": ({"to": "TARGET", "box": "drybox", "base_url": "http://boxes.invalid"},
                    ["would upload", "would write the catalog"]),
    "prune-boxes": ({"box": "drybox", "keep": 1}, ["would remove 0 version(s)", "kept 0.1.1"]),
    "test": ({"k": "nothing"}, ["would run: ", " -m pytest tests -k nothing"]),
    "test-box": ({"box": "docker-host"},
                 ["would run: BOXWRIGHT_TEST_BOX=docker-host ", " -m pytest tests/vm"]),
    "bench": ({"quick": True}, ["would run the bench group init", "would run the bench group box",
                                "would write"]),
    "publish": ({"registry": "127.0.0.1:5999"}, ["would push boxwright/baseimage:",
                                                 "127.0.0.1:5999/boxwright/baseimage"]),
    "ci": ({"registry": "127.0.0.1:5999"}, [" mmdebstrap ", "would build boxwright/baseimage:",
                                            " -m pytest tests -m 'image or services or derived'",
                                            "would push",
                                            "would write the report"]),
    "registry": ({"port": 5999}, ["would run: docker-registry serve", "127.0.0.1:5999"]),
}


def test_every_task_has_a_plan():
    assert set(PLANS) == set(tasks.ns.task_names)


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """Empty build/dist/results, no programs on PATH, no engine; progress handlers removed after."""
    dirs = {name: tmp_path / name for name in ("build", "dist", "results", "cache")}
    for variable, name in (("BOXWRIGHT_BUILD_DIR", "build"), ("BOXWRIGHT_DIST_DIR", "dist"),
                           ("BOXWRIGHT_RESULTS_DIR", "results"), ("BOXWRIGHT_CACHE_DIR", "cache")):
        monkeypatch.setenv(variable, str(dirs[name]))
    # publish-box publishes what was built: one small box, already in dist/
    box = dirs["dist"] / "boxes" / "drybox" / "0.1.1" / "drybox.box"
    box.parent.mkdir(parents=True)
    box.write_bytes(b"not really a box")
    catalog = dirs["dist"] / "boxes" / "drybox.json"
    write_catalog(catalog, add_version(read_catalog(catalog, "boxwright/drybox"), "0.1.1",
                                       provider_entry(box, sha256_file(box))))
    (tmp_path / "target").mkdir()
    (tmp_path / "empty-path").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-engine.sock'}")
    docker_client.cache_clear()
    yield tmp_path
    docker_client.cache_clear()
    root = logging.getLogger("boxwright")
    for handler in list(root.handlers):
        if getattr(handler, "_boxwright_progress", False):
            root.removeHandler(handler)


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("name", sorted(PLANS))
def test_dry_task_prints_its_plan_and_runs_nothing(name, sandbox, capsys):
    arguments, expected = PLANS[name]
    arguments = {k: str(sandbox / "target") if v == "TARGET" else v for k, v in arguments.items()}
    before = _tree(sandbox)
    context = MockContext(config=Config(overrides={"run": {"dry": True}}))  # c.run would raise: no results
    tasks.ns[name](context, **arguments)
    printed = capsys.readouterr()
    plan = printed.err + printed.out
    for text in expected:
        assert text in plan, plan
    assert _tree(sandbox) == before, plan
    assert "error" not in plan.lower(), plan


def test_dry_switch_is_off_again_after_a_task(sandbox):
    from boxwright import proc

    tasks.ns["render"](MockContext(config=Config(overrides={"run": {"dry": True}})))
    assert not proc.is_dry()


def test_kit_dry_build_box_leaves_no_file_behind(tmp_path):
    """The real thing: ./kit --dry build-box, outputs pointed at empty directories."""
    build, dist, cache = tmp_path / "build", tmp_path / "dist", tmp_path / "cache"
    env = dict(os.environ, BOXWRIGHT_BUILD_DIR=str(build), BOXWRIGHT_DIST_DIR=str(dist),
               BOXWRIGHT_CACHE_DIR=str(cache))
    done = subprocess.run([str(PROJECT_ROOT / "kit"), "--dry", "build-box"], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "kit: --dry: host parts are not checked" in output
    for command in ("mmdebstrap", "qemu-img create", "guestfish", "qemu-img convert"):
        assert f"would run: {command}" in output or f" {command} " in output, output
    assert not build.exists() and not dist.exists() and not cache.exists(), output
    assert os.listdir(tmp_path) == []
