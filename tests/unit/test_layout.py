"""README's Layout section names every module of the package, so the map cannot drift from the tree."""

from __future__ import annotations

import re

import pytest

from support import ROOT

PACKAGE = ROOT / "boxwright"


def _layout() -> str:
    text = (ROOT / "README.md").read_text()
    return text[text.index("## Layout\n"):text.index("## Image definitions\n")]


def _named() -> set[str]:
    """Module paths the section's tree names, rebuilt from its indentation."""
    named, stack = set(), []
    for line in _layout().splitlines():
        match = re.match(r"^(\s*)(\S+\.py|\S+/)\s", line + " ")
        if not match or not line.startswith("  "):
            continue
        depth = (len(match.group(1)) - 2) // 2
        stack[depth:] = [match.group(2).rstrip("/")]
        if match.group(2).endswith(".py"):
            named.add("/".join(stack))
    return named


@pytest.mark.parametrize(
    "module",
    sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
           if p.name != "__init__.py" or p.parent.name == "bench"),
)
def test_every_module_is_in_the_layout(module):
    assert module in _named(), f"README.md's Layout section does not name boxwright/{module}"
