"""What every section of the report shares: the Section itself and the few ways a value is
written (numbers, percentages, intervals, ratios), read from the results document alone."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from compare.contract.results import FINISHED
from compare.report import statistics


@dataclass
class Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    level: int = 2


def fmt(value, spec: str = ".1f", unit: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:{spec}}{unit}"


def percent(fraction: float | None) -> str:
    return fmt(fraction * 100 if fraction is not None else None, ".2f", "%")


def points(fraction: float | None) -> str:
    """A spread of accuracies in percentage points."""
    return fmt(fraction * 100 if fraction is not None else None, ".2f", " pp")


def interval_text(interval: list[float] | None, spec: str) -> str:
    return "—" if interval is None else f"[{interval[0]:{spec}}, {interval[1]:{spec}}]"


def ratio_text(ratio: dict | None) -> str:
    """A ratio to the baseline with its paired interval: `1.83× [1.71, 2.00]`, `tied` when it holds 1.0."""
    if not ratio or ratio["ratio"] is None:
        return "—"
    text = f"{ratio['ratio']:.2f}× {interval_text(ratio['interval_95'], '.2f')}"
    return text + (" tied" if ratio["tied"] else "")


def finished_runs(document: dict) -> list[dict]:
    return [run for run in document["runs"] if run["status"] in FINISHED]


def framework_label(document: dict, run: dict) -> str:
    """The framework, and the run's repeat when the comparison repeated its runs."""
    if statistics.repeats_in(document) <= 1:
        return run["framework"]
    return f"{run['framework']} #{statistics.repeat_of(run) + 1}"
