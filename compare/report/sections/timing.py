"""Timing: the two step clocks, latency and memory per run, where each run's seconds went, and
the frameworks ranked by time to target."""

from __future__ import annotations

import math

from compare.report.columns import cell, table
from compare.report.sections.common import Section, finished_runs, fmt, percent
from compare.report.statistics import model_label


def clock_ratio(timing: dict) -> str:
    """The first clock over the second: what waiting for every step's loss costs."""
    each, one = timing["step_time_ms_median"], timing.get("step_time_ms_one_wait")
    return fmt(each / one if each and one and one > 0 else None, ".2f", "×")


def large_batch_latency(timing: dict) -> str:
    return f"{fmt(timing['inference_latency_ms_large_batch'], '.1f')} (batch {timing['inference_large_batch_size']})"


TIMING_COLUMNS = [
    cell("model", model_label),
    cell("framework", lambda run: run["framework"]),
    cell("steady steps", lambda run: str(run["timing"]["steady_steps"])),
    cell("latency ms, batch 1", lambda run: fmt(run["timing"]["inference_latency_ms_batch_1"], ".2f")),
    cell("latency ms, large batch", lambda run: large_batch_latency(run["timing"])),
    cell("step ms, each step waits", lambda run: fmt(run["timing"]["step_time_ms_median"], ".2f")),
    cell("step ms, one wait", lambda run: fmt(run["timing"].get("step_time_ms_one_wait"), ".2f")),
    cell("each / one", lambda run: clock_ratio(run["timing"])),
    cell("peak RSS MiB", lambda run: fmt(run["memory"]["peak_rss_mb"], ",.0f")),
    cell("peak GPU MiB", lambda run: fmt(run["memory"]["peak_device_memory_mb"], ",.0f")),
    cell("jit_compile", lambda run: str(run["settings"]["jit_compile"])),
    cell("run wall s", lambda run: fmt(run["wall_time_s"], ".0f")),
]


def timing_section(document: dict) -> Section:
    return Section(
        "Timing details and memory",
        [
            "Inference latency: median of repeated predictions after two warm-up calls, waiting "
            "for the result on the host. Two clocks for a training step: each step waits (the step "
            "time everywhere else in this report: every step's loss is read on the host), and one wait "
            "(after training, windows of steps that never wait for their losses, timed to the last "
            "loss on the host and differenced over their extra steps; for Keras, `fit` with no "
            "callback reading a loss). A ratio above 1 is what waiting at every step costs. Peak RSS: "
            "the worker process's resident memory high-water mark (imports included). Device memory: "
            "the framework's GPU allocator peak."
        ],
        *table(TIMING_COLUMNS, finished_runs(document)),
    )


PHASES = (
    "imports",
    "data",
    "build_and_weights",
    "first_step",
    "training",
    "evaluation",
    "latency",
    "second_clock",
    "sweep",
    "process_start_and_end",
)


def overhead_s(run: dict) -> float:
    """What it costs to start, compile, measure latency and finish a run."""
    phases = run.get("phases_s", {})
    return run["wall_time_s"] - phases.get("training", 0) - phases.get("evaluation", 0)


def phase_column(phase: str):
    return cell(phase.replace("_", " "), lambda run: fmt(run.get("phases_s", {}).get(phase), ".1f"))


PHASE_COLUMNS = [
    cell("model", model_label),
    cell("framework", lambda run: run["framework"]),
    *(phase_column(phase) for phase in PHASES),
    cell("wall", lambda run: fmt(run["wall_time_s"], ".1f")),
    cell("overhead", lambda run: fmt(overhead_s(run), ".1f")),
]


def phases_section(document: dict) -> Section:
    return Section(
        "Where each run's time went",
        [
            "Seconds per phase of each worker process; the phases do not overlap. First step: the first "
            "training step, tracing and compilation included. Training: every other step, with the data feed "
            "and callbacks. Overhead: the wall time minus training and evaluation, i.e. what it costs to start, "
            "compile, measure latency and finish a run."
        ],
        *table(PHASE_COLUMNS, finished_runs(document)),
    )


def ranked_to_target(document: dict) -> list[tuple[int | None, dict, float | None]]:
    """(rank, run, its time over the fastest's) per model, fastest first; no rank without the target."""
    ranked = []
    for label in dict.fromkeys(model_label(run) for run in finished_runs(document)):
        runs = [run for run in finished_runs(document) if model_label(run) == label]
        runs.sort(key=lambda run: run["to_target"]["time_to_target_s"] or math.inf)
        fastest = runs[0]["to_target"]["time_to_target_s"]
        for rank, run in enumerate(runs, start=1):
            reached = run["to_target"]["time_to_target_s"]
            reached_rank = rank if reached is not None else None
            ranked.append((reached_rank, run, reached / fastest if reached is not None and fastest else None))
    return ranked


def time_to_target_text(run: dict) -> str:
    reached = run["to_target"]["time_to_target_s"]
    return fmt(reached, ".1f") if reached is not None else "not reached"


# One row per (rank, run, ratio to the model's fastest).
TARGET_COLUMNS = [
    cell("model", lambda r: model_label(r[1])),
    cell("rank", lambda r: r[0]),
    cell("framework", lambda r: r[1]["framework"]),
    cell("target", lambda r: percent(r[1]["to_target"]["target_accuracy"])),
    cell("time to target s", lambda r: time_to_target_text(r[1])),
    cell("vs fastest", lambda r: r[2], ".2f", "×"),
    cell("epochs to target", lambda r: fmt(r[1]["to_target"]["epochs_to_target"], "d")),
    cell("epochs run", lambda r: str(len(r[1]["history"]))),
    cell("final test acc", lambda r: percent(r[1]["final_test_accuracy"])),
]


def time_to_target_section(document: dict) -> Section | None:
    """The frameworks ranked per model by time to target, fastest first; None without targets."""
    if not document["settings"]["targets"]:
        return None
    return Section(
        "Time to target",
        [
            "As MLPerf and DAWNBench count it: wall time from the request of the first training step to the end "
            "of the evaluation of the first epoch whose test accuracy reached the target; compilation, the data feed "
            "and every evaluation included, process start-up and imports not. Ranked per model, fastest first."
        ],
        *table(TARGET_COLUMNS, ranked_to_target(document)),
    )
