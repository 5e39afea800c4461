"""README's service names and defaults are the service table's (issue 11: it named `syslog-ng`)."""

from __future__ import annotations

import re
from pathlib import Path

from boxwright.image.services import SERVICES

README = (Path(__file__).parents[2] / "README.md").read_text()


def _services_table() -> dict[str, str]:
    section = README[README.index("## Services and tools of the base image"):]
    rows = re.findall(r"^\| (\w+) +\| ([^|]+?) +\|", section.split("\n\n###", 1)[0], re.M)
    return {name: default for name, default in rows if name != "service"}


def test_readme_table_lists_exactly_the_rows_with_their_defaults():
    table = _services_table()
    assert list(table) == list(SERVICES)
    for name, row in SERVICES.items():
        expected = f"on with {row.follows}" if row.follows else ("on" if row.default else "off")
        assert table[name] == expected, name


def test_every_service_name_the_readme_disables_is_a_bundled_service():
    examples = re.findall(r"MY_INIT_DISABLE_SERVICES=([\w,.-]+)", README)
    examples += re.findall(r"`MY_INIT_DISABLE_SERVICES` \|[^\n]*e\.g\. `([^`]+)`", README)
    assert len(examples) >= 2
    for example in examples:
        for name in example.split(","):
            assert name in SERVICES, f"README names service {name!r}; bundled: {', '.join(SERVICES)}"
