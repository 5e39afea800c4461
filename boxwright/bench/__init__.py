"""``invoke bench``: measure side by side, keep every sample, print a table.

Benchmarks report, they do not pass or fail: each figure is a
:class:`Metric` with all its samples, and the run is written to
``bench/results/<date>-<sha>.json``.  The only failure is a variant that
crashes (so ``--quick`` inside the test suite keeps the code from rotting).
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

from boxwright import PROJECT_ROOT, paths
from boxwright.atomic import atomic_file
from boxwright.bench.record import Recorder, table
from boxwright.errors import UsageError
from boxwright.proc import is_dry
from boxwright.progress import quiet
from boxwright.provenance import git_dirty, git_revision

__all__ = ["GROUPS", "run_bench"]


def _groups() -> dict[str, Callable[[Recorder], None]]:
    from boxwright.bench.arch import bench_arch
    from boxwright.bench.backup import bench_backup
    from boxwright.bench.box import bench_box
    from boxwright.bench.image import bench_image
    from boxwright.bench.pid1 import bench_init
    from boxwright.bench.swarm import bench_swarm

    return {"init": bench_init, "image": bench_image, "arch": bench_arch, "box": bench_box,
            "swarm": bench_swarm, "backup": bench_backup}


GROUPS = ("init", "image", "arch", "box", "swarm", "backup")


log = logging.getLogger(__name__)


def run_bench(quick: bool = False, only: str = "") -> Path:
    """Run the groups (all, or ``only``), write the JSON, log the table; return the JSON path.

    The builds and boots inside stay quiet (only the figures are shown); under ``--dry`` the
    groups are listed and nothing runs.
    """
    selected = [g.strip() for g in only.split(",") if g.strip()] or list(GROUPS)
    unknown = set(selected) - set(GROUPS)
    if unknown:
        names = ", ".join(sorted(unknown))
        raise UsageError(f"unknown bench group(s): {names}; groups: {', '.join(GROUPS)}")
    recorder = Recorder(quick=quick)
    started = time.monotonic()
    groups = _groups()
    if is_dry():
        for name in selected:
            log.info("would run the bench group %s%s: %s", name, " (quick)" if quick else "",
                     (groups[name].__doc__ or "").strip().splitlines()[0])
        log.info("would write %s", paths.results_dir() / "<date>-<revision>.json")
        return paths.results_dir()
    for name in selected:
        log.info("bench: %s group%s", name, " (quick)" if quick else "")
        with quiet(keep=__name__):
            groups[name](recorder)
    now = datetime.datetime.now(datetime.UTC)
    revision = git_revision()
    result = {
        "date": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "revision": revision,
        "dirty": git_dirty(),
        "quick": quick,
        "groups": selected,
        "seconds": round(time.monotonic() - started, 1),
        "machine": {"cpus": os.cpu_count() or 0, "kernel": platform.release(), **recorder.facts},
        "metrics": [m.as_dict() for m in recorder.metrics],
    }
    stamp = f"{now.strftime('%Y%m%d-%H%M%S')}-{revision[:10]}{'-quick' if quick else ''}"
    path = paths.results_dir() / f"{stamp}.json"
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(result, indent=2) + "\n")
    shown = path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path
    log.info("\n%s\n\nbench: wrote %s in %s s", table(recorder.metrics), shown, result["seconds"])
    return path

