"""Reading a built disk with a read-only guestfish session (the box build tests)."""

from __future__ import annotations

import os
import subprocess

from boxwright.box.accel import detect_accel

__all__ = ["guestfish_sections"]


def guestfish_sections(script: str) -> dict[str, str]:
    """Run ``script`` (its ``echo ==NAME`` lines open sections); each section's output, by name."""
    env = dict(os.environ, **detect_accel().libguestfs_env())
    done = subprocess.run(["guestfish"], input=script, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    sections: dict[str, list[str]] = {}
    current = ""
    for line in done.stdout.splitlines():
        if line.startswith("=="):
            current = line[2:]
            sections[current] = []
        else:
            sections.setdefault(current, []).append(line)
    return {name: "\n".join(lines).strip() for name, lines in sections.items()}
