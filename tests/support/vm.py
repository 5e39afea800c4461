"""Helpers for the tests that boot a box (tests/vm/)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Sequence

from boxwright.box.definition import BoxDefinition, box_names, load_box
from boxwright.engine import docker_client

__all__ = ["BOXES", "boxes_where", "emulated", "load_image_over_ssh"]

#: The boxes under test: every shipped definition, or the one ``./kit test-box --box`` names.
BOXES = tuple(os.environ.get("BOXWRIGHT_TEST_BOX", "").split(",")) if os.environ.get(
    "BOXWRIGHT_TEST_BOX") else tuple(box_names())


def boxes_where(check: Callable[[BoxDefinition], bool]) -> list[str]:
    """The boxes under test ``check`` holds for: a module about one feature parametrizes
    ``box_definition`` (indirect) with them, e.g. the boxes that have a ``[backup]`` section."""
    return [name for name in BOXES if check(load_box(name))]


def emulated(name: str) -> bool:
    return not load_box(name).platform.platform.is_host


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
