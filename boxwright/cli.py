"""Map boxwright's errors to what a user sees: one line, a non-zero exit."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from invoke.exceptions import Exit

from boxwright.errors import BoxwrightError

__all__ = ["user_errors"]


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn BoxwrightError into ``error: ...`` and exit 1; Ctrl-C into exit 130."""
    try:
        yield
    except BoxwrightError as error:
        raise Exit(f"error: {error}", code=1) from None
    except KeyboardInterrupt:
        print(file=sys.stderr)
        raise Exit("interrupted: partial outputs were removed", code=130) from None
