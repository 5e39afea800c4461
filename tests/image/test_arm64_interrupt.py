"""Ctrl-C during an emulated (arm64) bootstrap: exit 130, no emulator left, no half-written base."""

from __future__ import annotations

import os
import subprocess

from boxwright import PROJECT_ROOT
from boxwright.image.base import base_image, bootstrap_dirs
from boxwright.image.definition import load_image
from boxwright.platforms import PLATFORMS
from support.emulation import interrupt_while_emulating
from support.terminal import as_from_a_terminal

ARM64 = PLATFORMS["linux/arm64"]


def test_ctrl_c_during_an_emulated_bootstrap(tmp_path, engine):
    images = tmp_path / "images"
    (images / "armonly").mkdir(parents=True)
    # A package set no other test uses; its base is removed first (an earlier run, or a build that
    # was not interrupted, may have left it), so the bootstrap must run.
    (images / "armonly" / "image.toml").write_text(
        'version = "0.0.1"\nplatforms = ["linux/arm64"]\n'
        'bootstrap = { suite = "trixie", packages = ["less"] }\n'
    )
    base = base_image(load_image("armonly", images).bootstrap, platform=ARM64)
    for image in engine.images.list(name="boxwright/armonly") + engine.images.list(name=base.tag):
        engine.images.remove(str(image.id), force=True)
    bootstraps = bootstrap_dirs()
    proc = subprocess.Popen(
        [str(PROJECT_ROOT / "kit"), "build-image", "--name", "armonly", "--platform", "linux/arm64"],
        cwd=PROJECT_ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True, env=dict(os.environ, BOXWRIGHT_IMAGES_DIR=str(images)),
        preexec_fn=as_from_a_terminal,
    )
    interrupt_while_emulating(proc)
    assert not bootstrap_dirs() - bootstraps
    assert not [t for i in engine.images.list(name="boxwright/debian") for t in i.tags if t == base.tag]
