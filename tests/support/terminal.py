"""Commands a test interrupts as a user at a terminal would (Ctrl-C: SIGINT to the process group)."""

from __future__ import annotations

import signal

__all__ = ["as_from_a_terminal"]


def as_from_a_terminal() -> None:
    """``preexec_fn``: SIGINT at its default disposition, as a command started from a terminal has it.

    A suite started as a background job (``cmd &`` in a script) inherits SIGINT ignored; Python
    then installs no KeyboardInterrupt handler, and the Ctrl-C under test would do nothing.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
