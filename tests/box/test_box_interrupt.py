"""Ctrl-C in the middle of the disk stage leaves no appliance, no temporary file and no box."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from support.terminal import as_from_a_terminal

BUILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from boxwright.box.build import build_box
    from boxwright.cli import user_errors
    from invoke.exceptions import Exit
    root = Path(sys.argv[1])
    try:
        with user_errors():
            build_box("tiny", boxes_dir=Path(sys.argv[2]), dist=root / "dist", work=root / "work")
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
        [sys.executable, "-c", BUILD, str(tmp_path), str(fixtures)], stdout=subprocess.PIPE,
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
