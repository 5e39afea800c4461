"""What a benchmark records: :class:`Metric` (every sample and its summary), :class:`Recorder`, tables."""

from __future__ import annotations

import logging
import statistics
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["Metric", "Recorder", "table"]


@dataclass
class Metric:
    """One figure for one variant: every sample, and the summary a table shows."""

    group: str
    name: str
    variant: str
    unit: str
    samples: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def summary(self) -> dict[str, float]:
        if not self.samples:
            return {}
        return {
            "min": min(self.samples),
            "median": statistics.median(self.samples),
            "max": max(self.samples),
        }

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), **self.summary, "n": len(self.samples)}


@dataclass
class Recorder:
    """Collects metrics as the groups run; logs each as it lands."""

    quick: bool
    metrics: list[Metric] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def repeat(self) -> int:
        """Samples per figure: few with --quick, enough for a median otherwise."""
        return 1 if self.quick else 5

    def add(self, group: str, name: str, variant: str, unit: str,
            samples: Iterable[float], note: str = "") -> Metric:
        metric = Metric(group, name, variant, unit, [round(s, 4) for s in samples], note)
        self.metrics.append(metric)
        log.info("  %-5s %-38s %-12s %s", group, name, variant, _format(metric))
        return metric

    def sample(self, group: str, name: str, variant: str, unit: str,
               measure: Callable[[], float], n: int | None = None, note: str = "") -> Metric:
        """Call ``measure`` n times (default: :attr:`repeat`) and record what it returns."""
        return self.add(group, name, variant, unit, [measure() for _ in range(n or self.repeat)], note)


def _format(metric: Metric) -> str:
    if not metric.samples:
        return f"n/a {metric.note}".strip()
    s = metric.summary
    value = _number(s["median"], metric.unit)
    spread = "" if len(metric.samples) == 1 else f" [{_number(s['min'], '')}–{_number(s['max'], '')}]"
    return f"{value}{spread} (n={len(metric.samples)}){' ' + metric.note if metric.note else ''}"


def _number(value: float, unit: str) -> str:
    text = f"{value:.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:.3g}"
    return f"{text} {unit}".strip()


def table(metrics: list[Metric]) -> str:
    """Markdown: one table per group, a row per figure, a column per variant (median, range, n)."""
    sections = []
    for group in dict.fromkeys(m.group for m in metrics):
        rows: dict[tuple[str, str], dict[str, str]] = {}
        variants: list[str] = []
        for m in (m for m in metrics if m.group == group):
            cell = _format(m).replace(f" {m.unit}", "", 1).replace("|", "/")
            rows.setdefault((m.name, m.unit), {})[m.variant] = cell
            if m.variant not in variants:
                variants.append(m.variant)
        lines = [
            f"| {group} | unit | " + " | ".join(variants) + " |",
            "|---|---|" + "---|" * len(variants),
        ]
        for (name, unit), cells in rows.items():
            values = " | ".join(cells.get(v, "") for v in variants)
            lines.append(f"| {name} | {unit} | {values} |")
        sections.append("\n".join(lines))
    return "\n\n".join(sections)
