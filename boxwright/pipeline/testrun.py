"""How the project runs its own test suite."""

from __future__ import annotations

import sys

from invoke import Context

from boxwright import PROJECT_ROOT, proc

__all__ = ["pytest_argv", "run_pytest"]


def pytest_argv(path: str = "tests", keyword: str = "", markers: str = "") -> list[str]:
    """The pytest command line for ``invoke test``."""
    argv = [sys.executable, "-m", "pytest", path]
    if keyword:
        argv += ["-k", keyword]
    if markers:
        argv += ["-m", markers]
    return argv


def run_pytest(
    c: Context, path: str = "tests", keyword: str = "", markers: str = "",
    env: dict[str, str] | None = None,
) -> None:
    """Run pytest from the project root; its exit code becomes the task's (under --dry: log it)."""
    import shlex

    if proc.is_dry():
        proc.run(pytest_argv(path, keyword, markers), env=env, cwd=PROJECT_ROOT)
        return
    with c.cd(str(PROJECT_ROOT)):
        c.run(shlex.join(pytest_argv(path, keyword, markers)), pty=False, echo=True, env=env or {})
