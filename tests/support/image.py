"""Which image the image tests check: the one ``./kit ci`` names, else a fresh build of baseimage."""

from __future__ import annotations

import os

from boxwright.pipeline.ci import TEST_IMAGE_ENV, image_id_env
from boxwright.platforms import Platform, host_platform

__all__ = ["image_under_test"]


def image_under_test(platform: Platform | None = None) -> tuple[str, str]:
    """``(definition name, image id or '')`` the image tests should check (on ``platform``,
    default the host's: ``ci`` hands over every platform's image)."""
    name = os.environ.get(TEST_IMAGE_ENV) or "baseimage"
    return name, os.environ.get(image_id_env(platform or host_platform()), "")
