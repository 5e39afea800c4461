"""Building: no-op rebuilds hit the cache, failures are clear, Ctrl-C leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from boxwright import PROJECT_ROOT
from boxwright.errors import BuildError
from boxwright.image.base import bootstrap_dirs
from boxwright.image.build import build_image
from support.terminal import as_from_a_terminal


def test_second_build_is_a_cache_hit(baseimage, image_definition, engine):
    result = build_image(image_definition.name)
    assert engine.images.get(baseimage).id == result.image_id


def test_failing_run_shows_its_tail_and_leaves_no_container(tmp_path, engine, baseimage):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "image.toml").write_text(
        'version = "0.0.1"\nbootstrap = { suite = "trixie" }\n'
        'packages = ["python3-minimal", "no-such-package-boxwright"]\n'
    )
    before = build_step_containers(engine, "no-such-package-boxwright")
    with pytest.raises(BuildError) as caught:
        build_image("broken", images_dir=tmp_path)
    message = str(caught.value)
    assert message.startswith("docker build of boxwright/broken:0.0.1 failed")
    assert "Unable to locate package no-such-package-boxwright" in message
    assert not build_step_containers(engine, "no-such-package-boxwright") - before


def build_step_containers(engine, marker: str = "") -> set[str]:
    """Containers of Dockerfile RUN steps whose command holds ``marker`` (other sessions' builds,
    which come and go meanwhile, don't count when it names this test's step).

    One list call (no inspect per container): another build's step may end in between."""
    return {c["Id"] for c in engine.api.containers(all=True)
            if "-o pipefail -euc" in c["Command"] and marker in c["Command"]}


def kit(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(PROJECT_ROOT / "kit"), *args], cwd=PROJECT_ROOT, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )


def test_unknown_image_is_one_line_and_exit_1():
    proc = kit("build-image", "--name", "no-such-image")
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert out.strip().splitlines()[-1].startswith("error: ")
    assert "no image definition 'no-such-image'" in out


def test_ctrl_c_during_build_leaves_no_containers_or_temporaries(tmp_path, engine, baseimage):
    """Interrupt the RUN step of a build: exit 130, no container, no temp dir."""
    images = PROJECT_ROOT / "build" / "test-images"
    (images / "slow").mkdir(parents=True, exist_ok=True)
    (images / "slow" / "image.toml").write_text(
        'version = "0.0.1"\nbootstrap = { suite = "trixie" }\n'
        f'packages = ["python3", "cron", "logrotate"]\ndescription = "{time.time()}"\n'
    )
    before = build_step_containers(engine)
    bootstraps = bootstrap_dirs()
    env = dict(os.environ, BOXWRIGHT_IMAGES_DIR=str(images))
    proc = subprocess.Popen(
        [str(PROJECT_ROOT / "kit"), "build-image", "--name", "slow", "--no-cache"], cwd=PROJECT_ROOT,
        text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, env=env,
        preexec_fn=as_from_a_terminal,
    )
    seen = []
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        if "Running in" in line and any("RUN " in s for s in seen):
            break
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, "".join(seen) + out
    assert "interrupted" in out
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        leftover = build_step_containers(engine) - before
        if not leftover:
            break
        time.sleep(0.5)
    assert not leftover, "the interrupted build left containers behind"
    build_dir = PROJECT_ROOT / "build" / "images"
    assert not [p for p in build_dir.iterdir() if ".boxwright-tmp-" in p.name]
    assert not bootstrap_dirs() - bootstraps
    assert Path(PROJECT_ROOT / "build" / "images" / "slow" / "Dockerfile").is_file()
