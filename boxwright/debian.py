"""What every boxwright mmdebstrap run has in common: the container base and box rootfs alike.

Both are Debian minbase tarballs slimmed the way Debian's -slim images are
(``templates/base/``), with /usr merged without the usrmerge package.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from boxwright.render import TEMPLATES_DIR

__all__ = ["MERGED_USR_HOOK_SUITES", "common_argv"]

#: Suites whose base-files does not merge /usr itself: mmdebstrap's merged-usr hook does it
#: without the usrmerge package (which drags perl and libfile-find-rule-perl in).
MERGED_USR_HOOK_SUITES = ("buster", "bullseye", "bookworm", "oldoldstable", "oldstable")
_MERGED_USR_HOOK = Path("/usr/share/mmdebstrap/hooks/merged-usr")


def common_argv(
    suite: str, variant: str = "minbase", templates_dir: Path = TEMPLATES_DIR, arch: str | None = None
) -> list[str]:
    """``mmdebstrap`` and the options every run shares; callers add theirs and the positionals.

    ``arch`` is a Debian architecture (``arm64``); None bootstraps the host's own.
    """
    slim = templates_dir / "base"
    argv = [
        "mmdebstrap",
        f"--mode={'root' if os.geteuid() == 0 else 'unshare'}",
        f"--variant={variant}",
        "--format=tar",
        f"--dpkgopt={slim / 'dpkg-slim.cfg'}",
        f'--customize-hook=sh {shlex.quote(str(slim / "slimify.sh"))} "$1"',
    ]
    if arch is not None:
        argv.append(f"--arch={arch}")
    if suite in MERGED_USR_HOOK_SUITES:
        argv.append(f"--hook-dir={_MERGED_USR_HOOK}")
    return argv
