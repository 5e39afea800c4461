"""Which image the image tests check: the one ``./kit ci`` names, else a fresh build of baseimage."""

from __future__ import annotations

import os

from boxwright.pipeline.ci import TEST_IMAGE_ENV, TEST_IMAGE_ID_ENV

__all__ = ["image_under_test"]


def image_under_test() -> tuple[str, str]:
    """``(definition name, image id or '')`` the image tests should check."""
    return os.environ.get(TEST_IMAGE_ENV) or "baseimage", os.environ.get(TEST_IMAGE_ID_ENV, "")
