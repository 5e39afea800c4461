"""``./kit registry``: a registry by hand, on the port asked for, gone after Ctrl-C or SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from boxwright import PROJECT_ROOT
from boxwright.pipeline.registry import free_port
from support.registry import repository_tags
from support.terminal import as_from_a_terminal


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_registry_task_serves_until_stopped(tmp_path, stop):
    port = free_port()
    proc = subprocess.Popen(
        [str(PROJECT_ROOT / "kit"), "registry", "--port", str(port), "--root", str(tmp_path)],
        cwd=PROJECT_ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        preexec_fn=as_from_a_terminal,
    )
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("registry on "):
            break
    assert seen[-1].startswith(f"registry on 127.0.0.1:{port} "), "".join(seen)
    assert repository_tags(f"127.0.0.1:{port}", "boxwright/baseimage") == []
    assert (tmp_path / "config.yml").is_file()
    if stop == signal.SIGINT:
        os.killpg(proc.pid, stop)  # what Ctrl-C in a terminal does: the whole group
    else:
        proc.send_signal(stop)  # a service manager stopping the task alone
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, "".join(seen) + out
    with pytest.raises(OSError):
        repository_tags(f"127.0.0.1:{port}", "boxwright/baseimage")
