"""Helpers for the tests that boot a box (tests/vm/)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from boxwright.engine import docker_client

__all__ = ["load_image_over_ssh"]


def load_image_over_ssh(ssh_argv: Sequence[str], image: str) -> None:
    """``docker save`` the host's ``image`` straight into ``docker load`` in the VM (no registry);
    ``ssh_argv`` is the ssh command line that runs ``docker load`` there."""
    save = docker_client().api.get_image(image)
    load = subprocess.Popen(list(ssh_argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    assert load.stdin is not None
    for chunk in save:
        load.stdin.write(chunk)
    load.stdin.close()
    output = load.stdout.read().decode() if load.stdout else ""
    assert load.wait() == 0, output
