"""Where boxwright reads definitions and writes outputs, each with an environment override.

=============  ======================  =================================================
function       default                 override
=============  ======================  =================================================
images_dir()   images/                 BOXWRIGHT_IMAGES_DIR  (image definitions)
boxes_dir()    boxes/                  BOXWRIGHT_BOXES_DIR   (box definitions)
build_dir()    build/                  BOXWRIGHT_BUILD_DIR   (work files, reports, caches)
dist_dir()     dist/                   BOXWRIGHT_DIST_DIR    (built boxes and catalogs)
results_dir()  bench/results/          BOXWRIGHT_RESULTS_DIR (bench runs)
cache_dir()    ~/.cache/boxwright/     BOXWRIGHT_CACHE_DIR   (box stages, downloaded .debs)
=============  ======================  =================================================

Relative defaults are under the checkout; the environment is read at each call, so a
test (or a private set of definitions) can point one process elsewhere.  The cache is
the machine's, not the checkout's (``$XDG_CACHE_HOME/boxwright`` when that is set): what
it holds is stored under a hash of its inputs, so every clone on the machine reuses it.
"""

from __future__ import annotations

import os
from pathlib import Path

from boxwright import PROJECT_ROOT

__all__ = ["ENV", "boxes_dir", "build_dir", "cache_dir", "dist_dir", "images_dir", "results_dir"]

#: Each location: its environment variable and its default under the checkout (the cache's is
#: the machine's: :func:`cache_dir`).
ENV = {
    "images": ("BOXWRIGHT_IMAGES_DIR", "images"),
    "boxes": ("BOXWRIGHT_BOXES_DIR", "boxes"),
    "build": ("BOXWRIGHT_BUILD_DIR", "build"),
    "dist": ("BOXWRIGHT_DIST_DIR", "dist"),
    "results": ("BOXWRIGHT_RESULTS_DIR", "bench/results"),
    "cache": ("BOXWRIGHT_CACHE_DIR", ""),
}


def _override(kind: str) -> Path | None:
    value = os.environ.get(ENV[kind][0], "").strip()
    return Path(value).resolve() if value else None


def _dir(kind: str) -> Path:
    return _override(kind) or PROJECT_ROOT / ENV[kind][1]


def cache_dir() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return _override("cache") or (Path(xdg) if xdg else Path.home() / ".cache") / "boxwright"


def images_dir() -> Path:
    return _dir("images")


def boxes_dir() -> Path:
    return _dir("boxes")


def build_dir() -> Path:
    return _dir("build")


def dist_dir() -> Path:
    return _dir("dist")


def results_dir() -> Path:
    return _dir("results")
