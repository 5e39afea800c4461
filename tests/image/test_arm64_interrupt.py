"""Ctrl-C during an emulated (arm64) bootstrap: exit 130, no emulator left, no half-written base."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from boxwright import PROJECT_ROOT
from boxwright.image.base import base_image, bootstrap_dirs
from boxwright.image.definition import load_image
from boxwright.platforms import PLATFORMS
from support.emulation import processes, wait_for_emulated_code_in_a_chroot
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
    try:
        chroots, table, ours = wait_for_emulated_code_in_a_chroot(proc)
    except BaseException:
        if proc.poll() is None:  # the build must not outlive a failed wait
            os.killpg(proc.pid, signal.SIGINT)
            proc.communicate(timeout=120)
        raise
    sessions = {table[pid][1] for pid in ours}
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    assert "interrupted" in out
    left = {pid: info for pid, info in processes().items() if info[1] in sessions}
    assert not left, f"processes of the interrupted bootstrap survived: {left}"
    for chroot in chroots - {"/"}:
        assert not Path(chroot).exists(), f"mmdebstrap's chroot {chroot} was left"
        assert chroot not in Path("/proc/mounts").read_text()
    assert not bootstrap_dirs() - bootstraps
    assert not [t for i in engine.images.list(name="boxwright/debian") for t in i.tags if t == base.tag]
