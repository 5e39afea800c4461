"""The task layer's one wrapper: progress on stderr, `--dry` honoured, errors as one line + exit code."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from invoke import Context
from invoke.exceptions import Exit

from boxwright import progress
from boxwright.errors import BoxwrightError
from boxwright.proc import dry_run

__all__ = ["is_dry_context", "user_errors"]


def is_dry_context(c: Context | None) -> bool:
    """``invoke --dry`` (or a config with ``run.dry``) asked for a dry run."""
    return bool(c is not None and c.config.run.dry)


@contextlib.contextmanager
def user_errors(c: Context | None = None) -> Iterator[None]:
    """Run a task body: progress lines on stderr, a dry run when ``c`` says so (``--dry``),
    BoxwrightError as ``error: ...`` and exit 1, Ctrl-C as exit 130."""
    progress.configure()
    try:
        with dry_run(is_dry_context(c)):
            yield
    except BoxwrightError as error:
        raise Exit(f"error: {error}", code=1) from None
    except KeyboardInterrupt:
        print(file=sys.stderr)
        raise Exit("interrupted: partial outputs were removed", code=130) from None
