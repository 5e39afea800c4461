"""my_init's settings: one table (SETTINGS) with parsers and defaults, the README's table is it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def readme_settings() -> dict[str, str]:
    section = README[README.index("### Environment variables"):]
    section = section[: section.index("\n\n", section.index("| --- |"))]
    return dict(re.findall(r"^\| `(\w+)` \| ([^|]+?) \|", section, re.M))


def test_readme_lists_exactly_the_settings_with_their_defaults(my_init):
    documented = readme_settings()
    assert list(documented) == list(my_init.SETTINGS)
    for name, (_, default) in my_init.SETTINGS.items():
        if isinstance(default, float):
            assert documented[name] == f"`{default:g}`", name
        elif isinstance(default, bool):
            assert documented[name] == f"`{int(default)}`", name


def test_each_setting_is_read_through_the_table_only(my_init_program):
    text = my_init_program.read_text()
    assert text.count("os.environ.get(") == 1  # inside setting()
    for name in ("MY_INIT_", "KILL_PROCESS_TIMEOUT", "KILL_ALL_PROCESSES_TIMEOUT"):
        uses = re.findall(rf'"({name}\w*)"', text)
        assert set(uses) - {"MY_INIT_PROGRAM"} <= set(re.findall(r'^    "(\w+)": \(', text, re.M))


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("MY_INIT_SHUTDOWN_BUDGET", "", 5.0),
        ("MY_INIT_SHUTDOWN_BUDGET", " 2.5 ", 2.5),
        ("MY_INIT_SHUTDOWN_BUDGET", "-1", 0.0),
        ("MY_INIT_SHUTDOWN_BUDGET", "soon", 5.0),
        ("KILL_PROCESS_TIMEOUT", "", None),
        ("MY_INIT_WAIT_FOR_SERVICES", "0", False),
        ("MY_INIT_WAIT_FOR_SERVICES", "1", True),
        ("MY_INIT_STARTUP_FAILURE", "continue", "continue"),
        ("MY_INIT_STARTUP_FAILURE", "carry-on", "stop"),
        ("MY_INIT_DISABLE_SERVICES", " cron, ,syslog ", frozenset({"cron", "syslog"})),
        ("MY_INIT_CRITICAL_SERVICES", "", frozenset()),
    ],
)
def test_parsers_and_defaults(my_init, monkeypatch, capfd, name, raw, expected):
    monkeypatch.setenv(name, raw)
    assert my_init.setting(name) == expected
    warned = capfd.readouterr().err
    assert (f"my_init: WARN: {name}=" in warned) == (raw in ("soon", "carry-on"))
