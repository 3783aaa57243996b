"""A sweep's numbers as the report reads them: per (model, framework), the fixed cost per step and
the cost per sample over the repeats, the step at each batch size, and the comparison with plain
torch in one sentence. Pure Python; the numbers come from results.json alone."""

from __future__ import annotations

import statistics as stats
from dataclasses import dataclass

from compare.contract.results import FINISHED
from compare.report import statistics
from compare.report.statistics import BASELINE

SAME_PER_SAMPLE = 1.25  # per-sample costs within this ratio of each other are called the same
PHASES = ("forward_and_loss", "gradients", "update", "other")  # compare.run.anatomy.step_phases


@dataclass(frozen=True)
class Swept:
    """One (model, framework) cell's sweeps, over its repeats."""

    model: str
    framework: str
    sweeps: list[dict]  # each run's anatomy
    aggregate: dict | None  # the cell's aggregate anatomy (medians and intervals), when stored
    step_ms: float | None  # the comparison's own step time (median over repeats)
    batch_size: int | None  # the comparison's batch size

    def cost(self, key: str) -> float:
        """fixed_ms or per_sample_us: the median over repeats."""
        if self.aggregate:
            return self.aggregate[key]["median"]
        return stats.median(sweep[key] for sweep in self.sweeps)

    def interval(self, key: str) -> list[float] | None:
        return self.aggregate[key]["interval_95"] if self.aggregate else None

    def points(self) -> dict[int, float]:
        """Batch size → the median over repeats of its median step, ms."""
        sizes: dict[int, list[float]] = {}
        for sweep in self.sweeps:
            for point in sweep["points"]:
                sizes.setdefault(point["batch_size"], []).append(point["step_time_ms_median"])
        return {size: stats.median(times) for size, times in sorted(sizes.items())}

    def largest_residual_pct(self) -> float:
        return max(abs(r) for sweep in self.sweeps for r in sweep["residuals_pct"])

    def line_holds(self) -> bool:
        return all(sweep["line_holds"] for sweep in self.sweeps)

    def phases(self) -> dict[str, float] | None:
        """The step at the comparison's batch size in phases (ms), medians over repeats."""
        found = [sweep["step_phases_ms"] for sweep in self.sweeps if sweep.get("step_phases_ms")]
        if not found:
            return None
        return {key: stats.median(phases[key] for phases in found) for key in ("step", *PHASES)}

    def overhead_bound_below(self) -> float | None:
        bounds = [sweep["overhead_bound_below_batch"] for sweep in self.sweeps]
        return None if None in bounds else stats.median(bounds)


def trained_batch_size(run: dict) -> int | None:
    """The batch size the run trained with: its throughput times its step time."""
    timing = run["timing"]
    if not timing.get("samples_per_s") or not timing.get("step_time_ms_median"):
        return None
    return round(timing["samples_per_s"] * timing["step_time_ms_median"] / 1e3)


def swept_cells(document: dict) -> list[Swept]:
    """Every cell whose runs were swept, in the order they ran."""
    aggregates = {(a["model"], a["framework"]): a for a in document.get("aggregates") or []}
    cells = []
    for (model, framework), runs in statistics.cells(document).items():
        sweeps = [run["anatomy"] for run in runs if run.get("anatomy")]
        if not sweeps:
            continue
        steps = [s for run in runs if (s := statistics.step_time_ms(run)) is not None]
        batch = next((trained_batch_size(run) for run in runs if run["status"] in FINISHED), None)
        anatomy = (aggregates.get((model, framework)) or {}).get("anatomy")
        cells.append(Swept(model, framework, sweeps, anatomy, stats.median(steps) if steps else None, batch))
    return cells


def explanation(cell: Swept, torch: Swept) -> str:
    """Why `cell` is as fast as it is against plain torch, in one sentence computed from the sweep."""
    ratio = cell.step_ms / torch.step_ms if cell.step_ms and torch.step_ms else None
    fixed, torch_fixed = cell.cost("fixed_ms"), torch.cost("fixed_ms")
    per_sample = cell.cost("per_sample_us") / torch.cost("per_sample_us")
    mine, theirs = cell.points(), torch.points()
    largest = max(set(mine) & set(theirs), default=None)
    at_largest = mine[largest] / theirs[largest] if largest else None
    same = 1 / SAME_PER_SAMPLE <= per_sample <= SAME_PER_SAMPLE
    if same and fixed > torch_fixed:
        why = "so the gap is fixed cost, which larger batches hide"
    elif same:
        why = "so the two cost the same per sample and it pays less per step"
    elif per_sample > 1 and fixed <= torch_fixed:
        why = "so the gap is cost per sample, which larger batches do not hide"
    elif per_sample > 1:
        why = "so it pays more both per step and per sample"
    else:
        why = "so it is cheaper per sample" + (", and pays more per step" if fixed > torch_fixed else "")
    at = f" at batch {cell.batch_size}" if cell.batch_size else ""
    opening = f"{cell.framework}'s {ratio:.2f}× on the {cell.model}{at}" if ratio else f"{cell.framework}"
    return (
        f"{opening}: its fixed cost is {fixed:.1f} ms per step against {BASELINE}'s {torch_fixed:.1f} ms, "
        f"its cost per sample {per_sample:.2f}× {BASELINE}'s, {why}"
        + (f"; at batch {largest} it takes {at_largest:.2f}× {BASELINE}'s step." if at_largest else ".")
    )
