"""Tables as lists of columns: each a name (units as suffixes: _ms, _s, _pct, _mb, _per_s), a header
for the report, and how to compute its value from a typed view of a run or of an aggregate. The
report's tables and the tidy CSVs beside results.json (`runs.csv`, `aggregates.csv`: one row per run,
one per model × framework, for pandas) are drawn from the same columns.

    columns = [Column("step_time_ms_median", "step ms", lambda run: run.step_ms, ".2f"), ...]
    rows = [[column.text(view) for column in columns] for view in run_views(document)]
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from compare.contract.results import FINISHED
from compare.report.statistics import BASELINE, model_label, repeat_of


@dataclass(frozen=True)
class RunView:
    """One run as the report reads it: its fields, and the document's facts about it."""

    run: dict
    document: dict

    @property
    def finished(self) -> bool:
        return self.run["status"] in FINISHED

    def timing(self, key: str) -> float | None:
        return self.run["timing"].get(key) if self.finished else None

    @property
    def step_ms(self) -> float | None:
        return self.timing("step_time_ms_median")

    @property
    def target(self) -> float | None:
        return self.document["settings"]["targets"].get(self.run["model"])

    @property
    def accuracy(self) -> float | None:
        return self.run.get("final_test_accuracy") if self.finished else None

    @property
    def to_target(self) -> dict:
        return (self.run.get("to_target") or {}) if self.finished else {}

    @property
    def vs_baseline(self) -> float | None:
        """Step time over plain torch's in the same model, variant and repeat."""
        for other in self.document["runs"]:
            same = model_label(other) == model_label(self.run) and repeat_of(other) == repeat_of(self.run)
            if same and other["framework"] == BASELINE and other["status"] in FINISHED:
                base = other["timing"]["step_time_ms_median"]
                return self.step_ms / base if self.step_ms and base else None
        return None


@dataclass(frozen=True)
class Column:
    name: str  # the CSV header: snake case, the unit as a suffix
    header: str  # the report's header
    value: Callable[[object], object]  # from a view; None where there is nothing to show
    spec: str = ""  # how the report formats the value ("" : as text)
    unit: str = ""  # what the report writes after it

    def text(self, view) -> str:
        value = self.value(view)
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return "—"
        return (format(value, self.spec) if self.spec else str(value)) + self.unit


def cell(header: str, value: Callable[[object], object], spec: str = "", unit: str = "") -> Column:
    """A column of a report table only (no CSV field): its header names it."""
    return Column(header, header, value, spec, unit)


def percent(name: str, header: str, value: Callable[[object], float | None]) -> Column:
    """A fraction shown as a percentage, stored in the CSV in percent (name ending in _pct)."""
    return Column(name, header, lambda view: None if (v := value(view)) is None else 100 * v, ".2f", "%")


def table(columns: list[Column], views: list) -> tuple[list[str], list[list[str]]]:
    """The report's headers and rows: one row per view, one cell per column."""
    return [column.header for column in columns], [[column.text(view) for column in columns] for view in views]


RUN_COLUMNS = [
    Column("model", "model", lambda r: model_label(r.run)),
    Column("framework", "framework", lambda r: r.run["framework"]),
    Column("repeat", "repeat", lambda r: repeat_of(r.run)),  # 0-based, as in results.json
    Column("seed", "seed", lambda r: r.run.get("seed")),
    Column("status", "status", lambda r: r.run["status"]),
    percent("final_test_accuracy_pct", "test acc", lambda r: r.accuracy),
    percent("target_accuracy_pct", "target %", lambda r: r.target),
    Column("step_time_ms_median", "step ms", lambda r: r.step_ms, ".2f"),
    Column("step_time_ms_iqr", "step IQR ms", lambda r: r.timing("step_time_ms_iqr"), ".2f"),
    Column("step_time_ms_one_wait", "step ms, one wait", lambda r: r.timing("step_time_ms_one_wait"), ".2f"),
    Column("step_time_vs_torch", f"vs {BASELINE}", lambda r: r.vs_baseline, ".2f", "×"),
    Column("samples_per_s", "samples/s", lambda r: r.timing("samples_per_s"), ",.0f"),
    Column("time_to_first_step_s", "first step s", lambda r: r.timing("time_to_first_step_s"), ".2f"),
    Column("time_to_target_s", "to target s", lambda r: r.to_target.get("time_to_target_s"), ".1f"),
    Column("epochs_to_target", "epochs to target", lambda r: r.to_target.get("epochs_to_target")),
    Column("peak_rss_mb", "peak RSS MB", lambda r: (r.run.get("memory") or {}).get("peak_rss_mb"), ",.0f"),
    Column("wall_time_s", "wall s", lambda r: r.run.get("wall_time_s"), ".1f"),
    Column("fixed_ms", "fixed ms per step", lambda r: (r.run.get("anatomy") or {}).get("fixed_ms"), ".2f"),
    Column("per_sample_us", "µs per sample", lambda r: (r.run.get("anatomy") or {}).get("per_sample_us"), ".1f"),
]


def ratio_field(metric: str, field: str) -> Callable[[dict], object]:
    """A field of an aggregate's ratio to the baseline for `metric`; None where there is none."""

    def value(cell: dict) -> object:
        ratio = (cell.get("vs_" + BASELINE) or {}).get(metric) or {}
        if field in ("low", "high"):
            interval = ratio.get("interval_95")
            return None if interval is None else interval[0 if field == "low" else 1]
        return ratio.get(field)

    return value


def interval_end(key: str, end: int) -> Callable[[dict], float | None]:
    return lambda cell: None if cell[key]["interval_95"] is None else cell[key]["interval_95"][end]


def anatomy_field(cell: dict, key: str, which: str | int) -> float | None:
    """A sweep's aggregate: its median, or an end (0, 1) of its interval; None without a sweep."""
    summary = (cell.get("anatomy") or {}).get(key)
    if summary is None:
        return None
    if which == "median":
        return summary["median"]
    return None if summary["interval_95"] is None else summary["interval_95"][which]


AGGREGATE_COLUMNS = [
    Column("model", "model", lambda c: c["model"]),
    Column("framework", "framework", lambda c: c["framework"]),
    Column("runs", "runs", lambda c: c["runs"]),
    Column("finished", "finished", lambda c: c["finished"]),
    Column("step_time_ms_median", "step ms", lambda c: c["step_time_ms"]["median"], ".2f"),
    Column("step_time_ms_min", "step ms min", lambda c: c["step_time_ms"]["min"], ".2f"),
    Column("step_time_ms_max", "step ms max", lambda c: c["step_time_ms"]["max"], ".2f"),
    Column("step_time_ms_ci_low", "step ms 95% low", interval_end("step_time_ms", 0), ".2f"),
    Column("step_time_ms_ci_high", "step ms 95% high", interval_end("step_time_ms", 1), ".2f"),
    percent("step_time_cv_pct", "step CV %", lambda c: c["step_time_ms"]["cv"]),
    Column("step_time_vs_torch", f"step vs {BASELINE}", ratio_field("step_time_ms", "ratio"), ".2f"),
    Column("step_time_vs_torch_ci_low", "95% low", ratio_field("step_time_ms", "low"), ".2f"),
    Column("step_time_vs_torch_ci_high", "95% high", ratio_field("step_time_ms", "high"), ".2f"),
    Column("step_time_vs_torch_tied", "tied", ratio_field("step_time_ms", "tied")),
    Column("time_to_target_s_mlperf", "to target s", lambda c: c["time_to_target_s"]["mlperf_mean"], ".1f"),
    Column("time_to_target_vs_torch", f"to target vs {BASELINE}", ratio_field("time_to_target_s", "ratio"), ".2f"),
    Column("time_to_target_vs_torch_tied", "tied", ratio_field("time_to_target_s", "tied")),
    Column("runs_missed_target", "missed", lambda c: c["time_to_target_s"]["runs_missed"]),
    percent("final_test_accuracy_mean_pct", "test acc %", lambda c: c["final_test_accuracy"]["mean"]),
    percent("final_test_accuracy_std_pct", "± points", lambda c: c["final_test_accuracy"]["std"]),
    Column("fixed_ms_median", "fixed ms", lambda c: anatomy_field(c, "fixed_ms", "median"), ".2f"),
    Column("fixed_ms_ci_low", "95% low", lambda c: anatomy_field(c, "fixed_ms", 0), ".2f"),
    Column("fixed_ms_ci_high", "95% high", lambda c: anatomy_field(c, "fixed_ms", 1), ".2f"),
    Column("per_sample_us_median", "µs per sample", lambda c: anatomy_field(c, "per_sample_us", "median"), ".1f"),
    Column("per_sample_us_ci_low", "95% low", lambda c: anatomy_field(c, "per_sample_us", 0), ".1f"),
    Column("per_sample_us_ci_high", "95% high", lambda c: anatomy_field(c, "per_sample_us", 1), ".1f"),
]


RUN = {column.name: column for column in RUN_COLUMNS}


def run_views(document: dict) -> list[RunView]:
    return [RunView(run, document) for run in document["runs"]]


def write_csv(path: Path, columns: list[Column], views: list) -> Path:
    """One row per view, one field per column, raw values (an empty field where there is none)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([column.name for column in columns])
        writer.writerows([["" if (v := column.value(view)) is None else v for column in columns] for view in views])
    tmp.replace(path)
    return path


def write_tables(document: dict, folder: Path) -> list[Path]:
    """runs.csv (one row per run) and aggregates.csv (one row per model × framework) in `folder`."""
    return [
        write_csv(folder / "runs.csv", RUN_COLUMNS, run_views(document)),
        write_csv(folder / "aggregates.csv", AGGREGATE_COLUMNS, document.get("aggregates") or []),
    ]
