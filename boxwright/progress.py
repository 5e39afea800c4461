"""Timed, nested steps on stdlib logging: what the library tells the user while it works.

The library only logs (logger ``boxwright``); the task layer decides where it goes
(:func:`configure`, called by :func:`boxwright.cli.user_errors`: plain lines on stderr).
A :func:`step` logs its title, indents whatever is logged inside it and ends with
``done in X s`` (or ``failed after X s``)::

    with step("[3/5] disk: qcow2, LVM, grub", short="[3/5]") as disk:
        note("launch the libguestfs appliance: 3.1 s")
    disk.seconds  # 41.7
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO

__all__ = ["Step", "configure", "note", "quiet", "raw", "step"]

log = logging.getLogger("boxwright")

_INDENT = "    "
_depth: contextvars.ContextVar[int] = contextvars.ContextVar("boxwright_progress_depth", default=0)
#: Where :func:`raw` writes: the stream :func:`configure` was given (None: not shown).
_raw: list[TextIO] = []


@dataclass
class Step:
    """A running step: its title, when it started, a detail for its end line; ``seconds`` once done."""

    title: str
    short: str
    started: float
    logger: logging.Logger
    detail: str = ""
    seconds: float = 0.0

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def next(self, title: str, *, short: str = "") -> float:
        """End this step (logging it done) and go on with ``title`` at the same level; the seconds it took."""
        ended = self.elapsed() if _dry() else self._end("done")
        token = _depth.set(_depth.get() - 1)
        try:
            self.logger.info("==> %s", title)
        finally:
            _depth.reset(token)
        self.title, self.short, self.started, self.detail = title, short, time.monotonic(), ""
        return ended

    def _end(self, what: str) -> float:
        self.seconds = self.elapsed()
        detail = f" ({self.detail})" if self.detail else ""
        level = logging.INFO if what == "done" else logging.WARNING
        self.logger.log(level, "%s%s %s %.1f s%s", f"{self.short} " if self.short else "", what,
                        "in" if what == "done" else "after", self.seconds, detail)
        return self.seconds


@contextlib.contextmanager
def step(title: str, *, short: str = "", logger: logging.Logger | None = None) -> Iterator[Step]:
    """Log ``==> title``, indent what is logged inside, then ``[short] done in X s`` (or the failure)."""
    logger = logger or log
    logger.info("==> %s", title)
    current = Step(title, short, time.monotonic(), logger)
    token = _depth.set(_depth.get() + 1)
    try:
        yield current
    except BaseException as error:
        current._end("interrupted" if isinstance(error, KeyboardInterrupt) else "failed")
        raise
    else:
        if not _dry():
            current._end("done")
    finally:
        _depth.reset(token)


def _dry() -> bool:
    from boxwright.proc import is_dry

    return is_dry()


@contextlib.contextmanager
def quiet(keep: str) -> Iterator[None]:
    """Within the block only warnings reach the user, except what logger ``keep`` (a child) logs."""
    kept = logging.getLogger(keep)
    previous = log.level, kept.level
    log.setLevel(logging.WARNING)
    kept.setLevel(logging.INFO)
    try:
        yield
    finally:
        log.setLevel(previous[0])
        kept.setLevel(previous[1])


def note(message: str, *args: object, logger: logging.Logger | None = None) -> None:
    """One progress line (indented to the current step)."""
    (logger or log).info(message, *args)


def raw(text: str) -> None:
    """Pass a command's output through as it comes (pytest's dots), where progress is shown."""
    for stream in _raw:
        stream.write(text)
        stream.flush()


class _Indent(logging.Filter):
    """Prefix each record with the depth of the step it was logged in (one level per step)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.indent = _INDENT * _depth.get()
        return True


class _Format(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        prefix = getattr(record, "indent", "")
        return "\n".join(prefix + line if line else line for line in text.split("\n"))


def configure(stream: TextIO | None = None, level: int = logging.INFO) -> logging.Handler:
    """Show the library's progress as plain lines on ``stream`` (default: stderr); idempotent."""
    root = logging.getLogger("boxwright")
    for handler in list(root.handlers):
        if getattr(handler, "_boxwright_progress", False):
            root.removeHandler(handler)
    stream = stream or sys.stderr
    _raw[:] = [stream]
    handler = logging.StreamHandler(stream)
    handler.addFilter(_Indent())
    handler.setFormatter(_Format("%(message)s"))
    handler._boxwright_progress = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    return handler
