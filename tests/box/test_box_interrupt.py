"""Ctrl-C in the middle of the disk stage, or of an emulated (arm64) rootfs, leaves no appliance,
no emulator, no temporary file and no box."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from boxwright import PROJECT_ROOT
from support.emulation import interrupt_while_emulating
from support.terminal import as_from_a_terminal

BUILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from boxwright.box.build import build_box
    from boxwright.cli import user_errors
    from invoke.exceptions import Exit
    root, name = Path(sys.argv[1]), sys.argv[3]
    try:
        with user_errors():
            build_box(name, boxes_dir=Path(sys.argv[2]), dist=root / "dist", work=root / "work")
    except Exit as exit:
        print(exit.message)
        sys.exit(exit.code)
""")


def _qemu_using(path: Path) -> list[int]:
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes()
        except OSError:
            continue
        if b"qemu-system" in text.split(b"\0", 1)[0] and str(path).encode() in text:
            pids.append(int(cmdline.parent.name))
    return pids


def test_ctrl_c_during_disk_stage_cleans_up(tmp_path, request, preload_image):
    fixtures = Path(request.config.rootpath) / "tests" / "fixtures" / "boxes"
    process = subprocess.Popen(
        [sys.executable, "-c", BUILD, str(tmp_path), str(fixtures), "tiny"], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True, preexec_fn=as_from_a_terminal,
    )
    seen = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            seen.append(line.rstrip())
            if line.strip().startswith("launch the libguestfs appliance:"):
                time.sleep(1)  # the appliance is up and working on the disk
                os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
                break
        rest, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    output = "\n".join(seen) + "\n" + rest
    assert process.returncode == 130, output
    assert "interrupted" in output
    assert _qemu_using(tmp_path) == []
    leftovers = [p for p in tmp_path.rglob("*") if ".boxwright-tmp-" in p.name]
    assert leftovers == []
    assert not (tmp_path / "work" / "tiny" / "disk.qcow2").exists()
    assert not (tmp_path / "dist" / "tiny.json").exists()
    assert not list((tmp_path / "dist").glob("tiny/*"))


def test_ctrl_c_while_an_arm64_rootfs_configures_under_emulation(tmp_path):
    """The shipped arm64 box with an empty stage cache: interrupted once its packages run aarch64 code
    in mmdebstrap's chroot."""
    process = subprocess.Popen(
        [sys.executable, "-c", BUILD, str(tmp_path), str(PROJECT_ROOT / "boxes"), "docker-host-arm64"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        preexec_fn=as_from_a_terminal,
    )
    interrupt_while_emulating(process)
    assert [p for p in tmp_path.rglob("*") if ".boxwright-tmp-" in p.name or "overlay-" in p.name] == []
    assert not list((tmp_path / "work").rglob("rootfs-*"))
    assert not (tmp_path / "dist").exists() or not list((tmp_path / "dist").rglob("*.json"))
