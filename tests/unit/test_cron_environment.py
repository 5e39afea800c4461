"""cron-environment and my_init agree on the per-user variables: one list, my_init's (issue 11)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
MY_INIT = ROOT / "images/baseimage/rootfs/sbin/my_init"
SCRIPT = ROOT / "images/baseimage/services/cron/usr/local/lib/boxwright/cron-environment"


def not_exported() -> set[str]:
    namespace: dict[str, object] = {"__name__": "my_init", "__file__": str(MY_INIT)}
    exec(compile(MY_INIT.read_text(), str(MY_INIT), "exec"), namespace)
    return {os.fsdecode(name) for name in namespace["NOT_EXPORTED"]}  # type: ignore[attr-defined]


def test_the_per_user_set_is_what_login_su_setuser_and_cron_set():
    assert not_exported() == {"HOME", "USER", "LOGNAME", "SHELL", "GROUP", "UID", "GID"}


def test_cron_jobs_get_none_of_my_inits_per_user_variables(tmp_path):
    source = tmp_path / "container_environment"
    source.mkdir()
    for name in [*not_exported(), "KEPT"]:
        (source / name).write_text("from-the-container")
    dest = tmp_path / "cron.environment"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(source), str(dest)],
        env={"MY_INIT": str(MY_INIT), "PATH": os.environ["PATH"]}, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    assert dest.read_text() == 'KEPT="from-the-container"\n'
    assert dest.stat().st_mode & 0o777 == 0o600
