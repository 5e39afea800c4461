"""Images preloaded into a box: saved from the engine, a missing one is one line."""

from __future__ import annotations

import pytest

from boxwright.box.preload import save_images
from boxwright.errors import BuildError


def test_missing_preload_image_is_one_line(tmp_path):
    with pytest.raises(BuildError, match="'boxwright-test/absent:0' is not in the Docker engine"):
        save_images(("boxwright-test/absent:0",), tmp_path)
