"""Progress: timed, nested steps on logging, shown as plain indented lines where cli.py points them."""

from __future__ import annotations

import io
import logging
import re

import pytest

from boxwright import progress
from boxwright.proc import dry_run


@pytest.fixture
def shown():
    stream = io.StringIO()
    handler = progress.configure(stream)
    yield stream
    logging.getLogger("boxwright").removeHandler(handler)


def _lines(stream: io.StringIO) -> list[str]:
    return [re.sub(r"\d+\.\d s", "X s", line) for line in stream.getvalue().splitlines()]


def test_steps_nest_indent_and_time(shown):
    with progress.step("[1/2] outer", short="[1/2]") as outer:
        progress.note("inside %s", "outer")
        with progress.step("inner"):
            logging.getLogger("boxwright.box.build").info("two\nlines")
        outer.detail = "42 MB"
    progress.note("after")
    assert _lines(shown) == [
        "==> [1/2] outer",
        "    inside outer",
        "    ==> inner",
        "        two",
        "        lines",
        "        done in X s",
        "    [1/2] done in X s (42 MB)",
        "after",
    ]
    assert outer.seconds >= 0


def test_a_failing_step_says_so_and_the_error_goes_on(shown):
    with pytest.raises(ValueError), progress.step("breaks", short="[3/5]"):
        raise ValueError("boom")
    with pytest.raises(KeyboardInterrupt), progress.step("stopped"):
        raise KeyboardInterrupt
    assert _lines(shown) == ["==> breaks", "    [3/5] failed after X s", "==> stopped",
                             "    interrupted after X s"]


def test_next_ends_one_step_and_starts_the_next_at_the_same_level(shown):
    with progress.step("[1/2] rootfs", short="[1/2]") as current:
        progress.note("fetching")
        first = current.next("[2/2] customise", short="[2/2]")
        progress.note("users")
    assert first >= 0
    assert _lines(shown) == ["==> [1/2] rootfs", "    fetching", "    [1/2] done in X s",
                             "==> [2/2] customise", "    users", "    [2/2] done in X s"]


def test_quiet_keeps_only_the_named_logger(shown):
    with progress.quiet(keep="boxwright.bench"):
        progress.note("hidden")
        logging.getLogger("boxwright.bench.record").info("figure")
        logging.getLogger("boxwright.box").warning("a warning still shows")
    progress.note("shown again")
    assert _lines(shown) == ["figure", "a warning still shows", "shown again"]


def test_raw_output_passes_through_unchanged(shown):
    progress.raw("..")
    progress.raw(".F\n")
    assert shown.getvalue() == "...F\n"


def test_a_dry_run_has_no_timings(shown):
    with dry_run(), progress.step("would-be step"):
        progress.note("would run: true")
    assert _lines(shown) == ["==> would-be step", "    would run: true"]


def test_nothing_is_shown_unless_the_task_layer_asks(capsys):
    logging.getLogger("boxwright").info("library chatter")
    assert capsys.readouterr() == ("", "")
