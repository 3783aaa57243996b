"""The verdict: per model, which framework is fastest per step and to target, with the ties the
repeats imply; and the table of repeated runs those rankings come from."""

from __future__ import annotations

from compare.report import statistics
from compare.report.columns import cell, table
from compare.report.sections.common import Section, finished_runs, fmt, interval_text, percent, points, ratio_text
from compare.report.sections.serving import serving_verdict
from compare.report.statistics import BASELINE, model_label

UNITS = {"step_time_ms": "ms", "time_to_target_s": "s"}


def ranking_text(ranked: list[tuple[str, float, bool | None]], unit: str) -> str:
    """`1 torch (12.0 ms), 1 keras-jax (12.1 ms, tied), 3 ...`: a tied framework shares the rank before it."""
    parts, rank = [], 0
    for position, (framework, value, tied) in enumerate(ranked):
        rank = rank if tied else position + 1
        parts.append(f"{rank} {framework} ({value:.3g} {unit}{', tied' if tied else ''})")
    return ", ".join(parts)


def fastest_text(ranked: list[tuple[str, float, bool | None]]) -> str:
    """The framework ranked first, and any that cannot be told apart from it."""
    if not ranked:
        return "—"
    leaders = [ranked[0][0]]
    for framework, _, tied in ranked[1:]:
        if not tied:
            break
        leaders.append(framework)
    return leaders[0] if len(leaders) == 1 else f"{', '.join(leaders)} (cannot be told apart)"


def intervals_missing(document: dict) -> list[str]:
    """A sentence when the statistics over repeats were stored without their intervals, and why."""
    intervals = document.get("intervals") or {}
    if intervals.get("computed", True):
        return []
    return [f"**Intervals and ties are not computed yet**: {intervals['why_not']}. Rankings below are by value only."]


def rerun_command(settings: dict) -> str:
    """The command that repeats a single-run comparison five times."""
    return (
        f"python -m compare --preset {settings['preset']} --models {','.join(settings['models'])} "
        f"--frameworks {','.join(settings['frameworks'])}"
        + (f" --precision {settings['precision']}" if settings["precision"] != "fp32" else "")
        + (" --until-target" if settings["until_target"] else "")
        + " --repeats 5"
    )


def verdict_paragraphs(document: dict) -> list[str]:
    settings = document["settings"]
    repeats = statistics.repeats_in(document)
    if repeats <= 1:
        return [
            "Each framework ran once per model, from one seed: these rankings rank single runs, and a "
            "rerun on the same machine can reorder frameworks that lie close together. To see which "
            f"differences hold, repeat the runs: `{rerun_command(settings)}`."
        ]
    return [
        *intervals_missing(document),
        *small_sample_coverage(repeats),
        f"{repeats} runs per framework and model, repeat i from seed {settings['seed']} + i in every framework, "
        "so the runs of one repeat are paired. Per step: the median of the runs' median step times. To "
        "target: time to target as MLPerf counts it (with 5 runs or more the fastest and the slowest are "
        "dropped, then the mean). A framework marked tied cannot be told apart from the one ranked before "
        f"it at this number of runs: the {statistics.CONFIDENCE:.0%} paired bootstrap interval of their "
        "ratio holds 1.0.",
    ]


def small_sample_coverage(repeats: int) -> list[str]:
    """Below 5 repeats a percentile interval is close to the range of the runs' values, which holds
    the true median with chance 1 − 2·(1/2)^N: say so rather than call it 95%."""
    if repeats >= 5:
        return []
    coverage = 1 - 2 * 0.5**repeats
    return [
        f"**With {repeats} repeats the intervals cover less than they say**: a {statistics.CONFIDENCE:.0%} "
        f"percentile interval of {repeats} values is close to their range, which holds the true median "
        f"{coverage:.0%} of the time. Read a tie as 'not told apart in {repeats} runs'; `--repeats 5` or "
        "more gives intervals that hold their level."
    ]


def why_paragraph(document: dict) -> list[str]:
    if not any(run.get("anatomy") for run in document["runs"]):
        return []
    return [
        "Why each framework ranks where it does: its fixed cost per step against its cost per sample, in "
        "[Where the time goes](#where-the-time-goes-fixed-cost-per-step-cost-per-sample) below."
    ]


def verdict_row(document: dict, label: str, by_metric: dict) -> list[str]:
    ranked = {name: [(r["framework"], r["value"], r["tied"]) for r in found] for name, found in by_metric.items()}
    absent = sorted(
        {f"{run['framework']} ({run['status']})" for run in document["runs"] if model_label(run) == label}
        - {f"{run['framework']} ({run['status']})" for run in finished_runs(document)}
    )
    return [
        label,
        fastest_text(ranked["step_time_ms"]),
        ranking_text(ranked["step_time_ms"], UNITS["step_time_ms"]) or "—",
        fastest_text(ranked["time_to_target_s"]),
        ranking_text(ranked["time_to_target_s"], UNITS["time_to_target_s"]) or "no run reached a target",
        ", ".join(absent) or "—",
    ]


def verdict_section(document: dict) -> Section:
    """Per model: the fastest framework per step and to target, the rankings, and what did not run."""
    return Section(
        "Verdict",
        verdict_paragraphs(document) + why_paragraph(document) + serving_verdict(document),
        ["model", "fastest per step", "per step", "fastest to target", "to target", "did not finish"],
        [verdict_row(document, label, by_metric) for label, by_metric in document["rankings"].items()],
    )


def min_max_text(step: dict) -> str:
    return f"{fmt(step['median'], '.2f')} ({fmt(step['min'], '.2f')}–{fmt(step['max'], '.2f')})"


def accuracy_text(cell: dict) -> str:
    return f"{percent(cell['final_test_accuracy']['mean'])} ± {points(cell['final_test_accuracy']['std'])}"


def ratio_to_baseline(metric: str):
    return lambda c: ratio_text((c.get("vs_" + BASELINE) or {}).get(metric))


# One row per (model, framework) over its repeats, from the aggregates the comparison stored.
REPEAT_COLUMNS = [
    cell("model", lambda c: c["model"]),
    cell("framework", lambda c: c["framework"]),
    cell("finished", lambda c: f"{c['finished']}/{c['runs']}"),
    cell("step ms (min–max)", lambda c: min_max_text(c["step_time_ms"])),
    cell("95% interval", lambda c: interval_text(c["step_time_ms"]["interval_95"], ".2f")),
    cell("CV", lambda c: percent(c["step_time_ms"]["cv"])),
    cell(f"step vs {BASELINE}", ratio_to_baseline("step_time_ms")),
    cell("to target s", lambda c: c["time_to_target_s"]["mlperf_mean"], ".1f"),
    cell("CV", lambda c: percent(c["time_to_target_s"]["cv"])),
    cell(f"to target vs {BASELINE}", ratio_to_baseline("time_to_target_s")),
    cell("epochs to target", lambda c: ", ".join("—" if e is None else str(e) for e in c["epochs_to_target"]) or "—"),
    cell("missed", lambda c: str(c["time_to_target_s"]["runs_missed"])),
    cell("test acc", accuracy_text),
]


def repeats_section(document: dict) -> Section | None:
    """One row per (model, framework) over its repeats; None for single runs."""
    if statistics.repeats_in(document) <= 1:
        return None
    return Section(
        "Repeated runs: medians, intervals and ratios",
        [
            f"Step ms: the median of the runs' median step times (min–max over runs), its {statistics.CONFIDENCE:.0%} "
            "bootstrap interval, and the coefficient of variation (CV: standard deviation over mean) across runs. "
            f"vs {BASELINE}: the ratio to plain torch's, paired by repeat, with its {statistics.CONFIDENCE:.0%} "
            "bootstrap interval (scipy.stats.bootstrap, percentile); tied where the interval holds 1.0. Time to "
            "target: MLPerf's mean (the fastest and slowest dropped from 5 runs on), over the runs that reached it; "
            "epochs to target per run; missed: runs that never reached it. Accuracy: final test accuracy, mean ± "
            "standard deviation in points.",
        ],
        *table(REPEAT_COLUMNS, document["aggregates"]),  # stored, or filled in by statistics.complete
    )
