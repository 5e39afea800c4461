"""Which host parts (Debian packages, daemons) each task needs: the one reader of ``hostparts.toml``.

Stdlib only, because ./kit runs this file as a script before the venv exists::

    python3 boxwright/hostparts.py plan build-box --name tiny   # what kit should ensure, one per line
    python3 boxwright/hostparts.py tasks                        # the task names the table knows

``plan`` prints one ``name|daemon|label|package:command ...`` line per part the tasks named in
the arguments need (their union, in table order); arguments that are no task (options, their
values) are ignored, so an argument list with no task prints nothing.
"""

from __future__ import annotations

import functools
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TABLE", "Part", "package_for", "parts", "plan", "task_parts", "tools"]

TABLE = Path(__file__).resolve().parent.parent / "hostparts.toml"


@dataclass(frozen=True)
class Part:
    """One row of ``[parts]``: Debian packages (package -> proving command, '' for none), a daemon."""

    name: str
    label: str
    packages: tuple[tuple[str, str], ...]
    daemon: str = ""


@functools.cache
def _load(path: Path = TABLE) -> tuple[dict[str, Part], dict[str, tuple[str, ...]]]:
    data = tomllib.loads(path.read_text())
    table: dict[str, Part] = {}
    for name, row in data["parts"].items():
        if any(":" not in entry for entry in row["packages"]):
            raise ValueError(f"{path}: parts.{name}.packages: each entry is 'package:command'")
        packages = tuple((entry.partition(":")[0], entry.partition(":")[2]) for entry in row["packages"])
        table[name] = Part(name, row.get("label", name), packages, row.get("daemon", ""))
    tasks = {task: tuple(names) for task, names in data["tasks"].items()}
    for task, names in tasks.items():
        if unknown := set(names) - set(table):
            raise ValueError(f"{path}: tasks.{task}: unknown part(s) {', '.join(sorted(unknown))}")
    return table, tasks


def parts() -> dict[str, Part]:
    """Every part, in table order."""
    return _load()[0]


def task_parts(*tasks: str) -> list[Part]:
    """The parts the named tasks need (their union, in table order); unknown names need nothing."""
    table, needs = _load()
    wanted = {part for task in tasks for part in needs.get(task, ())}
    return [part for name, part in table.items() if name in wanted]


def tools(part: str) -> dict[str, str]:
    """Command -> Debian package for the packages of ``part`` that have a command."""
    return {command: package for package, command in parts()[part].packages if command}


def package_for(command: str) -> str:
    """The Debian package that provides ``command`` per the table (else the command's own name)."""
    for part in parts().values():
        for package, provides in part.packages:
            if provides == command:
                return package
    return command


def plan(argv: list[str]) -> list[str]:
    """What kit ensures for a command line: one ``name|daemon|label|package:command ...`` per part."""
    known = _load()[1]
    selected = task_parts(*(arg for arg in argv if arg in known))
    return [
        "|".join((part.name, part.daemon, part.label, " ".join(f"{p}:{c}" for p, c in part.packages)))
        for part in selected
    ]


def _main(argv: list[str]) -> int:
    if argv[:1] == ["plan"]:
        for line in plan(argv[1:]):
            print(line)
        return 0
    if argv[:1] == ["tasks"]:
        print("\n".join(_load()[1]))
        return 0
    print("usage: hostparts.py plan ARGS... | tasks", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
