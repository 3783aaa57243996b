"""Repeated runs summarized: one aggregate per (model, variant, framework), each framework's
ratio to the baseline with a paired bootstrap interval, and rankings that name ties.

Repeat i of a comparison trains every framework from seed `seed + i` (compare.harness.plan),
so the runs of one repeat form a pair across frameworks: the bootstrap resamples repeats,
never runs apart from their partners.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from compare.catalog.frameworks import REFERENCE
from compare.catalog.registry import AS_BUILT
from compare.contract.results import FINISHED

BASELINE = REFERENCE  # ratios are given against plain PyTorch
CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 9_999
BOOTSTRAP_SEED = 0  # the same intervals every time a report is drawn from the same results
MLPERF_TRIMMED_FROM = 5  # MLPerf Training: with 5 runs or more, drop the fastest and the slowest
INTERVAL_METHOD = (
    f"scipy.stats.bootstrap, percentile method, paired by repeat, {BOOTSTRAP_RESAMPLES:,} resamples, "
    f"seed {BOOTSTRAP_SEED}"
)


def intervals_unavailable() -> str | None:
    """Why no interval can be computed in this process, or None when it can."""
    try:
        import scipy.stats  # noqa: F401  (imported again where used; a second import costs nothing)
    except ImportError as error:
        return f"SciPy cannot be imported here ({error}); `python -m compare report DIR` where it can computes them"
    return None


def model_label(run: dict) -> str:
    """The model's name, and its regularization variant when it has one."""
    return run["model"] if run["variant"] == AS_BUILT else f"{run['model']} ({run['variant']})"


def repeat_of(run: dict) -> int:
    return run.get("repeat", 0)  # results written before repeats existed hold one run per cell


def mlperf_mean(times, axis: int = -1):
    """MLPerf's time to train: with 5 runs or more the fastest and slowest are dropped, then the mean.
    Along `axis`, so that the bootstrap can apply it to every resample at once."""
    ordered = np.sort(np.asarray(times, dtype=float), axis=axis)
    if ordered.shape[axis] >= MLPERF_TRIMMED_FROM:
        ordered = np.take(ordered, np.arange(1, ordered.shape[axis] - 1), axis=axis)
    return np.mean(ordered, axis=axis)


def median(values, axis: int = -1):
    return np.median(np.asarray(values, dtype=float), axis=axis)


def coefficient_of_variation(values: Sequence[float]) -> float | None:
    """Sample standard deviation over the mean; None for fewer than two values."""
    if len(values) < 2:
        return None
    return float(np.std(values, ddof=1) / np.mean(values))


def bootstrap_interval(statistic: Callable[..., np.ndarray], *samples: Sequence[float]) -> list[float] | None:
    """The 95% percentile-bootstrap interval of `statistic(*samples, axis=...)` over samples
    paired by index (scipy.stats.bootstrap); None with fewer than two pairs, where no interval exists,
    or without SciPy (`complete` records why)."""
    if len(samples[0]) < 2 or intervals_unavailable():
        return None
    from scipy.stats import bootstrap  # imported here: only repeated runs need it

    result = bootstrap(
        tuple(np.asarray(sample, dtype=float) for sample in samples),
        statistic,
        paired=True,
        vectorized=True,
        confidence_level=CONFIDENCE,
        n_resamples=BOOTSTRAP_RESAMPLES,
        method="percentile",  # BCa needs more spread than a handful of repeats can show
        rng=np.random.default_rng(BOOTSTRAP_SEED),
    )
    return [float(result.confidence_interval.low), float(result.confidence_interval.high)]


def step_time_ms(run: dict) -> float | None:
    return run["timing"]["step_time_ms_median"] if run["status"] in FINISHED else None


def time_to_target_s(run: dict) -> float | None:
    return run["to_target"]["time_to_target_s"] if run["status"] in FINISHED else None


@dataclass(frozen=True)
class Metric:
    """A per-run number that frameworks are ranked on, lower first, and how runs of one cell combine."""

    name: str
    of_run: Callable[[dict], float | None]
    combine: Callable[..., np.ndarray]  # (values, axis) → one value per resample


METRICS = (
    Metric("step_time_ms", step_time_ms, median),  # the median of the per-run medians
    Metric("time_to_target_s", time_to_target_s, mlperf_mean),
)


def cells(document: dict) -> dict[tuple[str, str], list[dict]]:
    """The runs of each (model label, framework), in repeat order."""
    grouped: dict[tuple[str, str], list[dict]] = {}
    for run in document["runs"]:
        grouped.setdefault((model_label(run), run["framework"]), []).append(run)
    return {key: sorted(runs, key=repeat_of) for key, runs in grouped.items()}


def aggregate_cell(runs: list[dict]) -> dict:
    """Step time, time to target and accuracy over one cell's repeats."""
    finished = [run for run in runs if run["status"] in FINISHED]
    steps = [s for run in finished if (s := step_time_ms(run)) is not None]
    reached = [t for run in finished if (t := time_to_target_s(run)) is not None]
    accuracies = [run["final_test_accuracy"] for run in finished if run["final_test_accuracy"] is not None]
    return {
        "runs": len(runs),
        "finished": len(finished),
        "step_time_ms": {
            "median": float(median(steps)) if steps else None,
            "min": min(steps, default=None),
            "max": max(steps, default=None),
            "interval_95": bootstrap_interval(median, steps) if steps else None,
            "cv": coefficient_of_variation(steps),
        },
        "time_to_target_s": {
            "mlperf_mean": float(mlperf_mean(reached)) if reached else None,
            "cv": coefficient_of_variation(reached),
            "runs_reached": len(reached),
            "runs_missed": len(finished) - len(reached),
        },
        "epochs_to_target": [run["to_target"]["epochs_to_target"] for run in finished],
        "final_test_accuracy": {
            "mean": float(np.mean(accuracies)) if accuracies else None,
            "std": float(np.std(accuracies, ddof=1)) if len(accuracies) > 1 else None,
        },
        **anatomy_aggregate([run["anatomy"] for run in finished if run.get("anatomy")]),
    }


def anatomy_aggregate(swept: list[dict]) -> dict:
    """A sweep's fixed and per-sample cost over the cell's repeats: median and 95% interval each."""
    if not swept:
        return {}
    summary = {}
    for key in ("fixed_ms", "per_sample_us"):
        values = [sweep[key] for sweep in swept]
        summary[key] = {"median": float(median(values)), "interval_95": bootstrap_interval(median, values)}
    return {"anatomy": summary}


def paired_ratio(metric: Metric, runs: list[dict], others: list[dict]) -> dict:
    """`runs`' metric over `others'`, paired by repeat: the point ratio, its 95% interval,
    and whether the two can be told apart (the interval leaves out 1.0)."""
    theirs = {repeat_of(run): metric.of_run(run) for run in others}
    pairs = [
        (mine, theirs[repeat_of(run)])
        for run in runs
        if (mine := metric.of_run(run)) is not None and theirs.get(repeat_of(run)) is not None
    ]
    if not pairs:
        return {"ratio": None, "interval_95": None, "pairs": 0, "tied": None}
    a, b = (list(side) for side in zip(*pairs))
    interval = bootstrap_interval(lambda x, y, axis: metric.combine(x, axis) / metric.combine(y, axis), a, b)
    return {
        "ratio": float(metric.combine(a) / metric.combine(b)),
        "interval_95": interval,
        "pairs": len(pairs),
        "tied": None if interval is None else bool(interval[0] <= 1.0 <= interval[1]),
    }


def aggregates(document: dict) -> list[dict]:
    """One entry per (model label, framework): its aggregate and its ratios to the baseline."""
    grouped = cells(document)
    entries = []
    for (label, framework), runs in grouped.items():
        baseline = grouped.get((label, BASELINE))
        vs_baseline = (
            {metric.name: paired_ratio(metric, runs, baseline) for metric in METRICS}
            if baseline is not None and framework != BASELINE
            else None
        )
        entries.append({"model": label, "framework": framework, **aggregate_cell(runs), "vs_" + BASELINE: vs_baseline})
    return entries


def ranking(document: dict, label: str, metric: Metric) -> list[tuple[str, float, bool | None]]:
    """Frameworks of one model, fastest first by `metric`: (framework, value, tied with the one
    before it). Tied: their paired interval holds 1.0; None where no interval exists (single runs)."""
    grouped = {fw: runs for (lbl, fw), runs in cells(document).items() if lbl == label}
    values = {
        fw: float(metric.combine(found))
        for fw, runs in grouped.items()
        if (found := [v for run in runs if (v := metric.of_run(run)) is not None])
    }
    ordered = sorted(values, key=values.get)
    ranked = []
    for position, framework in enumerate(ordered):
        tied = paired_ratio(metric, grouped[framework], grouped[ordered[position - 1]])["tied"] if position else False
        ranked.append((framework, values[framework], tied))
    return ranked


def rankings(document: dict) -> dict[str, dict[str, list[dict]]]:
    """{model label: {metric: the frameworks fastest first, each with its value and whether it is
    tied with the one before it}}."""
    labels = dict.fromkeys(model_label(run) for run in document["runs"])
    return {
        label: {
            metric.name: [
                {"framework": framework, "value": value, "tied": tied}
                for framework, value, tied in ranking(document, label, metric)
            ]
            for metric in METRICS
        }
        for label in labels
    }


def complete(document: dict) -> bool:
    """Store the statistics over repeats in `document` (aggregates, rankings, how the intervals were
    made) where they are missing, or where they lack intervals that this process can compute. The one
    place they are computed: by the comparison at its end, and by `python -m compare report DIR` for a
    folder written without them (interrupted, or on a machine without SciPy). True when it changed
    the document."""
    recorded = document.get("intervals") or {}
    why_not = intervals_unavailable() if repeats_in(document) > 1 else None  # one run a cell: no SciPy (1.5 s)
    if "aggregates" in document and "rankings" in document and (recorded.get("computed") or why_not):
        return False
    document["aggregates"] = aggregates(document)
    document["rankings"] = rankings(document)
    document["intervals"] = {"method": INTERVAL_METHOD, "computed": why_not is None, "why_not": why_not}
    return True


def repeats_in(document: dict) -> int:
    """Runs per cell: the most any (model, framework) has."""
    return max((len(runs) for runs in cells(document).values()), default=0)
