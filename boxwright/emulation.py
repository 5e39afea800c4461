"""Run another architecture's binaries on this host: QEMU user mode through binfmt_misc.

Only what a foreign platform needs is touched, and only when a task needs it:
binfmt_misc is mounted if it is not, and the one handler for that architecture
(``qemu-aarch64``, from Debian's ``qemu-user-static``) is registered from the
package's own ``binfmt.d`` line.  Its flags include ``F`` (the kernel opens the
emulator at registration), so it works inside containers and chroots.  No
other handler is enabled (``binfmt-support`` would enable jar, python, ...).
"""

from __future__ import annotations

import os
from pathlib import Path

from boxwright.errors import EmulationUnavailable
from boxwright.platforms import Platform
from boxwright.proc import is_dry, run

__all__ = ["BINFMT_DIR", "ensure_emulation", "handler_flags"]

BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")
#: Where Debian's qemu-user-static keeps its handler definitions (systemd-binfmt format).
BINFMT_D = Path("/usr/lib/binfmt.d")


def handler_flags(entry: Path) -> str | None:
    """The flags of an enabled binfmt_misc handler, or None if it is absent or disabled."""
    try:
        lines = entry.read_text().splitlines()
    except OSError:
        return None
    if not lines or lines[0] != "enabled":
        return None
    for line in lines:
        if line.startswith("flags:"):
            return line.split(":", 1)[1].strip()
    return ""


def ensure_emulation(target: Platform, *, binfmt_dir: Path = BINFMT_DIR, binfmt_d: Path = BINFMT_D) -> None:
    """Make ``target``'s binaries runnable here (nothing to do for the host's own platform).

    Raises :class:`EmulationUnavailable` with one line saying what is missing.
    """
    if target.is_host:
        return
    entry = binfmt_dir / target.qemu
    flags = handler_flags(entry)
    if flags is not None:
        if "F" not in flags:
            raise EmulationUnavailable(
                target, f"{entry} is registered without the F flag (containers cannot use it): "
                f"remove it (echo -1 > {entry}) and retry"
            )
        return
    definition = binfmt_d / f"{target.qemu}.conf"
    if not definition.is_file():
        raise EmulationUnavailable(target, f"no {definition}: install the Debian package 'qemu-user-static'")
    if os.geteuid() != 0:
        raise EmulationUnavailable(target, f"registering {target.qemu} in binfmt_misc needs root")
    if not (binfmt_dir / "register").exists():
        result = run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(binfmt_dir)], check=False)
        if not result.ok:
            last = (result.errors or result.output).strip().splitlines()[-1:] or [result.describe()]
            raise EmulationUnavailable(target, f"cannot mount binfmt_misc on {binfmt_dir}: {last[0]}")
    if is_dry():
        return
    line = next(
        (text for text in definition.read_text().splitlines() if text.startswith(":")), None
    )
    if line is None:
        raise EmulationUnavailable(target, f"{definition} holds no binfmt_misc handler line")
    try:
        (binfmt_dir / "register").write_text(line + "\n")
    except OSError as error:
        problem = f"the kernel refused the {target.qemu} handler: {error.strerror}"
        raise EmulationUnavailable(target, problem) from None
