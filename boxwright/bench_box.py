"""The box group: placeholder until build-box and test-box land."""

from __future__ import annotations

from boxwright.bench import Recorder

__all__ = ["bench_box"]


def bench_box(rec: Recorder) -> None:
    """Box build and boot figures (filled in by the box issues)."""
    rec.facts["box"] = "not measured yet"
