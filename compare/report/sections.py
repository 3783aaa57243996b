"""The report's sections, each computed from the results document alone: a title,
paragraphs and a table. compare.report.render writes them as Markdown and HTML.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from compare.catalog.frameworks import PRECISIONS
from compare.catalog.registry import AS_BUILT, MODELS, Regularization
from compare.contract.results import FINISHED, RunStatus
from compare.report import statistics
from compare.report.columns import RUN, Column, run_views, table
from compare.report.statistics import BASELINE, model_label


@dataclass
class Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    level: int = 2


def params_verdict(counts: list[int], reference: list[int] | None) -> str:
    """Whether a run's (trainable, non-trainable) counts are the catalog's."""
    if reference is None:
        return "not declared (a user's twins)"
    return "yes" if counts == reference else f"NO: expected {reference[0]:,} / {reference[1]:,}"


def fmt(value, spec: str = ".1f", unit: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:{spec}}{unit}"


def percent(fraction: float | None) -> str:
    return fmt(fraction * 100 if fraction is not None else None, ".2f", "%")


def finished_runs(document: dict) -> list[dict]:
    return [run for run in document["runs"] if run["status"] in FINISHED]


def framework_label(document: dict, run: dict) -> str:
    """The framework, and the run's repeat when the comparison repeated its runs."""
    if statistics.repeats_in(document) <= 1:
        return run["framework"]
    return f"{run['framework']} #{statistics.repeat_of(run) + 1}"


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


def verdict_paragraphs(document: dict) -> list[str]:
    settings = document["settings"]
    repeats = statistics.repeats_in(document)
    if repeats <= 1:
        command = (
            f"python -m compare --preset {settings['preset']} --models {','.join(settings['models'])} "
            f"--frameworks {','.join(settings['frameworks'])}"
            + (f" --precision {settings['precision']}" if settings["precision"] != "fp32" else "")
            + (" --until-target" if settings["until_target"] else "")
            + " --repeats 5"
        )
        return [
            "Each framework ran once per model, from one seed: these rankings rank single runs, and a "
            "rerun on the same machine can reorder frameworks that lie close together. To see which "
            f"differences hold, repeat the runs: `{command}`."
        ]
    return [
        *intervals_missing(document),
        f"{repeats} runs per framework and model, repeat i from seed {settings['seed']} + i in every framework, "
        "so the runs of one repeat are paired. Per step: the median of the runs' median step times. To "
        "target: time to target as MLPerf counts it (with 5 runs or more the fastest and the slowest are "
        "dropped, then the mean). A framework marked tied cannot be told apart from the one ranked before "
        f"it at this number of runs: the {statistics.CONFIDENCE:.0%} paired bootstrap interval of their "
        "ratio holds 1.0.",
    ]


def verdict_section(document: dict) -> Section:
    """Per model: the fastest framework per step and to target, the rankings, and what did not run."""
    rows = []
    for label, by_metric in document["rankings"].items():
        ranked = {name: [(r["framework"], r["value"], r["tied"]) for r in found] for name, found in by_metric.items()}
        absent = sorted(
            {f"{run['framework']} ({run['status']})" for run in document["runs"] if model_label(run) == label}
            - {f"{run['framework']} ({run['status']})" for run in finished_runs(document)}
        )
        rows.append(
            [
                label,
                fastest_text(ranked["step_time_ms"]),
                ranking_text(ranked["step_time_ms"], UNITS["step_time_ms"]) or "—",
                fastest_text(ranked["time_to_target_s"]),
                ranking_text(ranked["time_to_target_s"], UNITS["time_to_target_s"]) or "no run reached a target",
                ", ".join(absent) or "—",
            ]
        )
    return Section(
        "Verdict",
        verdict_paragraphs(document),
        ["model", "fastest per step", "per step", "fastest to target", "to target", "did not finish"],
        rows,
    )


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


def repeats_section(document: dict) -> Section | None:
    """One row per (model, framework) over its repeats; None for single runs."""
    if statistics.repeats_in(document) <= 1:
        return None
    rows = []
    for cell in document["aggregates"]:  # stored by the comparison, or by `report DIR` (statistics.complete)
        step, target, accuracy = cell["step_time_ms"], cell["time_to_target_s"], cell["final_test_accuracy"]
        vs = cell.get("vs_" + BASELINE) or {}
        rows.append(
            [
                cell["model"],
                cell["framework"],
                f"{cell['finished']}/{cell['runs']}",
                f"{fmt(step['median'], '.2f')} ({fmt(step['min'], '.2f')}–{fmt(step['max'], '.2f')})",
                interval_text(step["interval_95"], ".2f"),
                percent(step["cv"]),
                ratio_text(vs.get("step_time_ms")),
                fmt(target["mlperf_mean"], ".1f"),
                percent(target["cv"]),
                ratio_text(vs.get("time_to_target_s")),
                ", ".join("—" if e is None else str(e) for e in cell["epochs_to_target"]) or "—",
                str(target["runs_missed"]),
                f"{percent(accuracy['mean'])} ± {points(accuracy['std'])}",
            ]
        )
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
        [
            "model",
            "framework",
            "finished",
            "step ms (min–max)",
            "95% interval",
            "CV",
            f"step vs {BASELINE}",
            "to target s",
            "CV",
            f"to target vs {BASELINE}",
            "epochs to target",
            "missed",
            "test acc",
        ],
        rows,
    )


def target_text(document: dict, run: dict) -> str:
    """The run's final accuracy against the preset's target for its model and dataset."""
    target = document["settings"]["targets"].get(run["model"])
    if target is None or run["final_test_accuracy"] is None:
        return "—"
    reached = run["final_test_accuracy"] >= target
    return f"{'met' if reached else 'MISSED'} (≥ {target:.1%})"


SUMMARY_COLUMNS = [
    Column("model", "model", lambda r: model_label(r.run)),
    Column("framework", "framework", lambda r: framework_label(r.document, r.run)),
    RUN["status"],
    RUN["final_test_accuracy_pct"],
    Column("target", "target", lambda r: target_text(r.document, r.run) if r.finished else None),
    Column(
        "step_time_ms",
        "step ms (median ± IQR)",
        lambda r: f"{fmt(r.step_ms, '.2f')} ± {fmt(r.timing('step_time_ms_iqr'), '.2f')}" if r.finished else None,
    ),
    RUN["step_time_vs_torch"],
    RUN["samples_per_s"],
    RUN["time_to_first_step_s"],
]


def summary_section(document: dict) -> Section:
    headers, rows = table(SUMMARY_COLUMNS, run_views(document))
    return Section(
        "Summary",
        [
            "Step time: median over steady-state training steps ± interquartile range, in ms; "
            "each step waits for its loss on the host, so device work is finished. The first "
            f"step (tracing, compilation) and the next {document['settings'].get('warmup_steps', 0)} "
            f"are left out and reported as time to first step. Ratio: step time over plain "
            f"`{BASELINE}`'s for the same model (lower is faster).",
        ],
        headers,
        rows,
    )


def parameters_section(document: dict) -> Section:
    rows, notes = [], []
    for run in finished_runs(document):
        info = run["model_info"]
        counts = [info["trainable_params"], info["non_trainable_params"]]
        rows.append(
            [
                model_label(run),
                run["framework"],
                f"{counts[0]:,}",
                f"{counts[1]:,}",
                str(tuple(info["output_shape"])),
                params_verdict(counts, info["reference_params"]),
                fmt(run.get("step0_max_abs_logit_diff"), ".1e")
                if run.get("initial_weights") == "shared"
                else "own init",
            ]
        )
    for name in dict.fromkeys(run["model"] for run in finished_runs(document)):
        if name in MODELS and MODELS[name].why_counts_differ:
            notes.append(f"**{name}**: {MODELS[name].why_counts_differ}")
    return Section(
        "Parameters, output shapes and step-0 parity",
        [
            "Non-trainable: Keras' non-trainable weights; torch's frozen parameters and "
            "floating-point buffers (BatchNorm running statistics). Step-0 Δ: max |logit difference| "
            "between the run's model, right after loading the shared initial weights, and the torch "
            f"twin's reference logits on the same 64 test digits. Initial weights: "
            f"{document['settings'].get('initial_weights', 'not recorded')}.",
            *notes,
        ],
        ["model", "framework", "trainable", "non-trainable", "output shape", "matches the reference", "step-0 Δ"],
        rows,
    )


def history_section(document: dict) -> Section:
    rows = [
        [
            model_label(run),
            run["framework"],
            str(epoch["epoch"]),
            fmt(epoch["train_loss"], ".4f"),
            percent(epoch["train_accuracy"]),
            fmt(epoch["val_loss"], ".4f"),
            percent(epoch["val_accuracy"]),
            fmt(epoch["test_loss"], ".4f"),
            percent(epoch["test_accuracy"]),
            fmt(epoch["epoch_time_s"], ".2f"),
        ]
        for run in finished_runs(document)
        for epoch in run["history"]
    ]
    return Section(
        "Per epoch",
        [
            "Train loss and accuracy: running means over the epoch's batches in training mode (dropout and "
            "augmentation on), as Keras' `fit` reports them. Losses include the L2 penalty when one is set "
            "(Keras' definition of `loss`). Validation: the split early stopping watches, when there is one. "
            "Epoch time: the training loop only; the first epoch includes compilation."
        ],
        [
            "model",
            "framework",
            "epoch",
            "train loss",
            "train acc",
            "val loss",
            "val acc",
            "test loss",
            "test acc",
            "epoch s",
        ],
        rows,
    )


def timing_section(document: dict) -> Section:
    rows = []
    for run in finished_runs(document):
        timing, memory = run["timing"], run["memory"]
        rows.append(
            [
                model_label(run),
                run["framework"],
                str(timing["steady_steps"]),
                fmt(timing["inference_latency_ms_batch_1"], ".2f"),
                f"{fmt(timing['inference_latency_ms_large_batch'], '.1f')} "
                f"(batch {timing['inference_large_batch_size']})",
                fmt(timing["step_time_ms_median"], ".2f"),
                fmt(timing.get("step_time_ms_one_wait"), ".2f"),
                clock_ratio(timing),
                fmt(memory["peak_rss_mb"], ",.0f"),
                fmt(memory["peak_device_memory_mb"], ",.0f"),
                str(run["settings"]["jit_compile"]),
                fmt(run["wall_time_s"], ".0f"),
            ]
        )
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
        [
            "model",
            "framework",
            "steady steps",
            "latency ms, batch 1",
            "latency ms, large batch",
            "step ms, each step waits",
            "step ms, one wait",
            "each / one",
            "peak RSS MiB",
            "peak GPU MiB",
            "jit_compile",
            "run wall s",
        ],
        rows,
    )


def clock_ratio(timing: dict) -> str:
    """The first clock over the second: what waiting for every step's loss costs."""
    each, one = timing["step_time_ms_median"], timing.get("step_time_ms_one_wait")
    return fmt(each / one if each and one and one > 0 else None, ".2f", "×")


PHASES = (
    "imports",
    "data",
    "build_and_weights",
    "first_step",
    "training",
    "evaluation",
    "latency",
    "second_clock",
    "process_start_and_end",
)


def phases_section(document: dict) -> Section:
    rows = []
    for run in finished_runs(document):
        phases = run.get("phases_s", {})
        overhead = run["wall_time_s"] - phases.get("training", 0) - phases.get("evaluation", 0)
        rows.append(
            [
                model_label(run),
                run["framework"],
                *(fmt(phases.get(p), ".1f") for p in PHASES),
                fmt(run["wall_time_s"], ".1f"),
                fmt(overhead, ".1f"),
            ]
        )
    return Section(
        "Where each run's time went",
        [
            "Seconds per phase of each worker process; the phases do not overlap. First step: the first "
            "training step, tracing and compilation included. Training: every other step, with the data feed "
            "and callbacks. Overhead: the wall time minus training and evaluation, i.e. what it costs to start, "
            "compile, measure latency and finish a run."
        ],
        ["model", "framework", *(p.replace("_", " ") for p in PHASES), "wall", "overhead"],
        rows,
    )


def time_to_target_section(document: dict) -> Section | None:
    """The frameworks ranked per model by time to target, fastest first; None without targets."""
    if not document["settings"]["targets"]:
        return None
    rows = []
    for label in dict.fromkeys(model_label(run) for run in finished_runs(document)):
        runs = [run for run in finished_runs(document) if model_label(run) == label]
        runs.sort(key=lambda run: run["to_target"]["time_to_target_s"] or math.inf)
        fastest = runs[0]["to_target"]["time_to_target_s"]
        for rank, run in enumerate(runs, start=1):
            reached = run["to_target"]["time_to_target_s"]
            rows.append(
                [
                    label,
                    str(rank) if reached is not None else "—",
                    run["framework"],
                    percent(run["to_target"]["target_accuracy"]),
                    fmt(reached, ".1f") if reached is not None else "not reached",
                    f"{reached / fastest:.2f}×" if reached is not None and fastest else "—",
                    fmt(run["to_target"]["epochs_to_target"], "d"),
                    str(len(run["history"])),
                    percent(run["final_test_accuracy"]),
                ]
            )
    return Section(
        "Time to target",
        [
            "As MLPerf and DAWNBench count it: wall time from the request of the first training step to the end "
            "of the evaluation of the first epoch whose test accuracy reached the target; compilation, the data feed "
            "and every evaluation included, process start-up and imports not. Ranked per model, fastest first."
        ],
        [
            "model",
            "rank",
            "framework",
            "target",
            "time to target s",
            "vs fastest",
            "epochs to target",
            "epochs run",
            "final test acc",
        ],
        rows,
    )


def compilation_section(document: dict) -> Section | None:
    """What torch.compile did in each run that used it; None when no run did."""
    rows = [
        [
            model_label(run),
            run["framework"],
            c["mode"],
            str(c["frames_compiled"]),
            str(c["graphs"]),
            str(c["graph_breaks"]),
            str(c["recompiles_after_first_step"]),
            disk_cache_text(c.get("disk_cache_at_start")),
            fmt(run["timing"]["time_to_first_step_s"], ".1f"),
        ]
        for run in finished_runs(document)
        if (c := run["settings"].get("compilation"))
    ]
    if not rows:
        return None
    return Section(
        "What torch.compile did",
        [
            "Counted by Dynamo in each worker. A graph break splits a function into several graphs with Python "
            "between them; a recompilation after the first training step means the steady state is not steady "
            "(a new shape, a changed Python value guarded on). Evaluation windows are not counted. Disk "
            "cache: torch.compile's on-disk kernel cache when the run began, and the files the run wrote to it. "
            "Empty: nothing there; cold: the run compiled kernels the cache lacked (another model's kernels "
            "may have been there); warm: it found every kernel. A cold start lengthens time to first step "
            "and time to target."
        ],
        [
            "model",
            "framework",
            "mode",
            "frames compiled",
            "graphs",
            "graph breaks",
            "recompiles after step 1",
            "disk cache at start",
            "first step s",
        ],
        rows,
    )


def disk_cache_text(cache: dict | None) -> str:
    """torch.compile's disk cache as the run found it, and what the run wrote (schema 5)."""
    if cache is None:
        return "not recorded"
    if "files_written" not in cache:  # recorded before the files a run writes were counted
        return "empty" if cache["files"] == 0 else f"not empty: {cache['files']:,} files"
    if cache["state"] == "warm":
        return f"warm: {cache['files']:,} files, none written"
    return f"{cache['state']}: {cache['files']:,} files, {cache['files_written']:,} written"


def placement_section(document: dict) -> Section | None:
    """Where each run ran and which runs overlapped it, when runs ran at the same time."""
    executor = document["settings"].get("executor") or {}
    runs = [run for run in document["runs"] if run.get("placement")]
    if not executor.get("concurrent") and not any(run.get("overlapped_with") for run in runs):
        return None
    paragraphs = [
        f"Runs executed with the `{executor.get('name', '?')}` executor, several at once: each on its own "
        "GPU(s) and share of the CPU cores, as recorded below, with the runs that overlapped it in time."
    ]
    if executor.get("shared_cpu"):
        paragraphs.append(
            "**These runs shared one CPU** (`--share-cpu`): each timing includes the others' load on the "
            "memory and caches, so compare them with care; one run at a time measures each alone."
        )
    hosts = {run["placement"]["host"] for run in runs}
    if len(runs) > 1 and len(hosts) == 1:
        paragraphs.append(f"Every run ran on one node, `{hosts.pop()}`.")
    rows = [
        [
            model_label(run),
            run["framework"],
            str(run.get("repeat", 0)),
            run["placement"]["host"],
            ",".join(run["placement"]["gpus"]) or "none",
            f"{len(run['placement']['cpus'])} cores",
            run["placement"].get("slurm_job_id") or "",
            str(len(run.get("overlapped_with", []))),
        ]
        for run in runs
    ]
    headers = ["model", "framework", "repeat", "host", "GPUs", "CPU", "Slurm job", "overlapping runs"]
    return Section("Where the runs ran", paragraphs, headers, rows)


def data_path_section(document: dict) -> Section:
    seen: dict[str, str] = {}
    for run in finished_runs(document):
        seen.setdefault(run["framework"], run["settings"]["data_path"])
    return Section(
        "How data reaches the device",
        [
            "Every framework gets the same float32 images scaled to [0, 1], in the same order "
            "(one shared permutation per epoch), in whole batches."
        ],
        ["framework", "path"],
        [[name, text] for name, text in seen.items()],
    )


def problems_section(document: dict) -> Section:
    rows = []
    for run in document["runs"]:
        if run["status"] == RunStatus.OK:
            continue
        reason = run.get("error", {}).get("reason", "")
        if run["status"] == RunStatus.DIVERGED:
            reason = f"loss became NaN or infinite at step {run['diverged_at_step']}"
        rows.append([model_label(run), run["framework"], run["status"], reason])
    paragraphs = [] if rows else ["Every run finished."]
    if rows:
        paragraphs.append("Each worker's full output is in `runs/<model>--<framework>.log`.")
    return Section("Runs that did not finish", paragraphs, ["model", "framework", "status", "reason"], rows)


def cpu_text(env: dict) -> str:
    """The CPU, its threads, and its instruction-set level (recorded since schema 5)."""
    text = f"{env['cpu']}, {env['cpu_threads']} threads"
    if env.get("cpu_capability"):
        text += f", torch kernels: {env['cpu_capability']}"
    if env.get("onednn_max_cpu_isa"):
        text += f", oneDNN capped at {env['onednn_max_cpu_isa']} (ONEDNN_MAX_CPU_ISA)"
    return text


def environment_section(document: dict) -> Section:
    env, settings = document["environment"], document["settings"]
    gpus = "; ".join(f"{g['name']} (driver {g['driver']}, {g['memory']})" for g in env["gpus"]) or "none"
    packages = ", ".join(f"{name} {version}" for name, version in env["packages"].items() if version)
    devices = {f"{run['framework']}: {run['device']['name']}" for run in finished_runs(document)}
    rows = [
        ["data", settings["data"]["source"]],
        ["preset", f"{settings['preset']}: {settings.get('preset_description', '')}"],
        ["device", settings["device"]],
        ["devices used", "; ".join(sorted(devices)) or "—"],
        ["GPUs", gpus],
        ["CPU", cpu_text(env)],
        ["Python", f"{env['python']} on {env['platform']}"],
        ["packages", packages],
        ["precision", f"{settings['precision']}: {PRECISIONS[settings['precision']]}"],
        ["Keras jit_compile", settings["jit_compile"]],
        ["torch.compile mode", settings["compile_mode"]],
        [
            "until target",
            "yes: each run stopped at the first epoch that reached its target"
            if settings["until_target"]
            else "no: every run trained its preset's epochs",
        ],
        ["Adam epsilon", str(settings["adam_epsilon"])],
        ["seed", str(settings["seed"])],
        ["git commit", env["git_commit"] or "—"],
        ["started", document["created"] + ("" if document["finished"] else " (interrupted: partial results)")],
    ]
    return Section("Environment", [], ["", ""], rows)


def checks_by_backend(document: dict) -> dict[str, dict]:
    return document.get("checks", {})


def parity_tolerances(from_checks: dict[str, dict]) -> dict:
    """The tolerances the checks applied, as they recorded them (compare.lessons.parity)."""
    for checks in from_checks.values():
        for parity in checks.get("parity", {}).values():
            if "tolerance" in parity["inference"] and "tolerance" in parity["training"]:
                logits = f"{parity['inference']['tolerance']:.0e}".replace("e-0", "e-")  # 1e-4, not 1e-04
                return {"logits": logits, "update": parity["training"]["tolerance"]}
    return {}


def parity_row(backend: str, model: str, parity: dict) -> list[str]:
    """One model's inference and one-step training parity on one Keras backend."""
    inference, training = parity["inference"], parity["training"]
    if "error" in inference or "error" in training:
        return [backend, model, inference.get("error") or training.get("error"), *["—"] * 6]
    bn = (
        "—"
        if "bn_running_mean_max_abs_diff" not in training
        else f"mean {training['bn_running_mean_max_abs_diff']:.1e}, "
        f"var {training['bn_running_var_max_rel_diff']:.1e} rel"
    )
    return [
        backend,
        model,
        f"{inference['max_abs_logit_diff']:.1e}",
        f"{training['loss_diff']:.1e}",
        f"{training['sgd_max_abs_weight_diff']:.1e} ({training['sgd_relative_weight_diff']:.1e} of the largest update)",
        bn,
        fmt(training.get("lstm_summed_bias_step_ratio_torch_over_keras"), ".2f", "×"),
        f"{training['adam_max_abs_weight_diff']:.1e}",
        "yes" if inference["passed"] and training["passed"] else "NO",
    ]


def parity_section(document: dict) -> Section:
    from_checks = checks_by_backend(document)
    tolerances = parity_tolerances(from_checks)
    rows = []
    for backend, checks in from_checks.items():
        if "error" in checks:
            rows.append([backend, "—", f"check failed: {checks['error']}", *["—"] * 6])
            continue
        rows += [parity_row(backend, model, parity) for model, parity in checks["parity"].items()]
    return Section(
        "Parity: the twins compute the same function",
        [
            "Each Keras twin receives the torch twin's weights (compare.porting.port_keras) and both see the "
            "same 32 digits, NHWC and NCHW. Inference: max |logit difference| in eval mode, "
            f"tolerance {tolerances['logits']} (float32, TF32 off). Training: one SGD step in training "
            "mode with dropout off and BatchNorm on batch statistics: loss difference (tolerance "
            f"{tolerances['logits']}) and the largest weight difference afterwards (tolerance "
            f"{tolerances['update']:.0%} of the largest update; "
            "BatchNorm's backward pass cancels nearly equal sums, see compare/lessons/parity.py). "
            "BatchNorm: running mean (absolute) and running variance (relative) after the step; "
            "torch uses the unbiased batch variance, Keras the biased one, a relative 1/(n−1). "
            "LSTM: how far the sum of torch's two biases moved compared with Keras' one bias "
            "(each torch bias gets the full gradient). Adam: the largest weight difference after "
            "one Adam step (see the Adam difference below).",
        ]
        if tolerances
        else ["No checks ran: the comparison skipped them (--skip-checks), or torch or a Keras backend was missing."],
        [
            "backend",
            "model",
            "inference Δ",
            "loss Δ",
            "SGD weights Δ",
            "BatchNorm stats Δ",
            "LSTM bias step",
            "Adam weights Δ",
            "within tolerance",
        ],
        rows,
    )


def differences_sections(document: dict) -> list[Section]:
    from_checks = {b: c for b, c in checks_by_backend(document).items() if "differences" in c}
    if not from_checks:
        return []
    parts = [
        Section(
            "Framework differences",
            [
                "Each difference below is measured by an executed check (compare.lessons.differences) on every Keras "
                "backend listed; the numbers are this run's.",
            ],
        )
    ]
    keys = dict.fromkeys(key for checks in from_checks.values() for key in checks["differences"])
    for key in keys:
        outcomes = {backend: checks["differences"].get(key, {}) for backend, checks in from_checks.items()}
        told = next((outcome for outcome in outcomes.values() if "title" in outcome), None)
        measured = [
            f"Measured on {backend}: {outcome.get('summary') or outcome.get('error', 'not run')}."
            for backend, outcome in outcomes.items()
        ]
        paragraphs = [told["explanation"], *measured, f"Fix: `{told['fix']}`"] if told else measured
        parts.append(Section(told["title"] if told else key, paragraphs, level=3))
    return parts


def regularized_runs(document: dict) -> list[dict]:
    return [run for run in finished_runs(document) if run["variant"] != AS_BUILT]


REGULARIZATION_SPELLINGS = [
    "How each is spelled. **L2**: Keras `kernel_regularizer=keras.regularizers.L2(λ)` on each layer "
    "(`fit` adds `model.losses` to the loss); torch `loss = loss + λ * sum(w.square().sum() for w in kernels)`. "
    "**Weight decay**: `weight_decay=` in both optimizers, with different updates (see the Adam weight_decay "
    "difference). **Dropout**: `keras.layers.Dropout(rate)` and `nn.Dropout(rate)`. **Early stopping**: "
    '`keras.callbacks.EarlyStopping(monitor="val_loss", patience=P, restore_best_weights=True)`; in torch '
    "the loop keeps the best weights and stops itself. **Augmentation**: `keras.layers.RandomRotation` and "
    "`RandomTranslation` in front of the model; in torch `F.affine_grid` + `F.grid_sample` on the device.",
    "Train accuracy is the running mean over each epoch in training mode (dropout and augmentation on), "
    "as `fit` reports it; the gap is train minus test accuracy at the epoch whose weights the run ends "
    "with (the best epoch after early stopping). Keras' image preprocessing layers declare "
    '`supports_jit=False`, so `jit_compile="auto"` trains an augmented Keras model without XLA: see '
    "the jit_compile and step-time columns.",
]


def regularization_row(run: dict) -> list[str]:
    """A run's epochs, early stopping, train and test accuracy at the weights it ends with."""
    stopping = run["early_stopping"]
    end = stopping["best_epoch"] if stopping and stopping["best_epoch"] else len(run["history"])
    train_accuracy = run["history"][end - 1]["train_accuracy"] if run["history"] else None
    test_accuracy = run["final_test_accuracy"]
    gap = (train_accuracy - test_accuracy) * 100 if train_accuracy is not None and test_accuracy is not None else None
    stopped = (
        "—"
        if not stopping
        else (
            f"stopped at {stopping['stopped_epoch']}, best {stopping['best_epoch']}"
            if stopping["stopped_epoch"]
            else f"ran every epoch, best {stopping['best_epoch']}"
        )
    )
    return [
        run["model"],
        run["variant"],
        run["framework"],
        str(len(run["history"])),
        stopped,
        percent(train_accuracy),
        percent(test_accuracy),
        fmt(gap, "+.2f", " pp"),
        fmt(run["timing"]["step_time_ms_median"], ".2f"),
        str(run["settings"]["jit_compile"]),
    ]


def regularization_section(document: dict) -> Section | None:
    runs = regularized_runs(document)
    if not runs:
        return None
    rows = [regularization_row(run) for run in runs]
    variants = {variant["name"]: variant for variant in document["settings"].get("variants", [])}
    described = [
        f"**{name}**: {describe_variant(variant)}" if name != describe_variant(variant) else name
        for name, variant in variants.items()
    ]
    held_out = document["settings"]["validation_fraction"]
    return Section(
        "Regularization: train versus test accuracy",
        [
            "Every variant trains on the same images, from the same initial weights and budget"
            + (
                f"; {held_out:.0%} of the training images are held out as early stopping's validation split."
                if held_out
                else "."
            ),
            "; ".join(described) + ".",
            *REGULARIZATION_SPELLINGS,
        ],
        [
            "model",
            "variant",
            "framework",
            "epochs run",
            "early stopping",
            "train acc",
            "test acc",
            "gap (train − test)",
            "step ms",
            "jit_compile",
        ],
        rows,
    )


def describe_variant(variant: dict) -> str:
    return Regularization(**variant).describe()


def data_parallel_row(run: dict, row: dict | None, single: dict | None) -> list[str]:
    """A data-parallel run beside its single-device twin: speed, accuracy, weights."""
    if row is None:
        verdict, weights = "no single-device twin in this comparison", "—"
    else:
        weights = f"{row['max_abs_weight_diff']:.1e} ({fmt(row['relative_to_update'], '.1e')} of the largest update)"
        verdict = (
            ("yes" if row["within_tolerance"] else "NO")
            if row["expected_to_match"]
            else ("not expected: " + "; ".join(row["why_not"]))
        )
    return [
        model_label(run),
        run["framework"],
        str(run["devices"]),
        single["framework"] if single else "—",
        f"{fmt(run['timing']['step_time_ms_median'], '.2f')} vs "
        f"{fmt(single['timing']['step_time_ms_median'], '.2f') if single else '—'}",
        f"{fmt(run['timing']['samples_per_s'], ',.0f')} vs "
        f"{fmt(single['timing']['samples_per_s'], ',.0f') if single else '—'}",
        f"{percent(run['final_test_accuracy'])} vs {percent(single['final_test_accuracy']) if single else '—'}",
        weights,
        verdict,
    ]


def data_parallel_section(document: dict) -> Section | None:
    parity = {(row["model"], row["variant"], row["framework"]): row for row in document.get("data_parallel", [])}
    runs = [run for run in finished_runs(document) if run["devices"] > 1]
    if not runs:
        return None
    by_key = {(run["model"], run["variant"], run["framework"]): run for run in finished_runs(document)}
    rows = []
    for run in runs:
        row = parity.get((run["model"], run["variant"], run["framework"]))
        single = by_key.get((run["model"], run["variant"], row["reference"])) if row else None
        rows.append(data_parallel_row(run, row, single))
    on_cpu = document["settings"]["device"] == "cpu"
    paragraphs = [
        "keras-jax-dp sets `keras.distribution.DataParallel(devices=keras.distribution.list_devices())` and "
        "calls the same `fit`: Keras replicates every variable and splits each batch over the devices. "
        "torch-ddp is started by `torchrun`, one process per device; each wraps the model in "
        "`DistributedDataParallel`, takes every world-th image of each global batch (what a "
        "`DistributedSampler` deals it), and "
        "`backward()` averages the gradients across processes. Both keep the global batch size, learning "
        "rate and initial weights of the single-device runs, and see the same global batches.",
        "Same weights: the largest difference between the data-parallel run's final weights and its "
        f"single-device twin's, within {document['data_parallel'][0]['tolerance']:.0e} of the largest weight "
        "change training made when nothing random differs (averaging over devices only reorders float32 "
        "sums)."
        if document.get("data_parallel")
        else "",
        (
            "On a CPU the devices are JAX host devices or gloo processes sharing the same cores: these step "
            "times and throughputs are a correctness check, not a speed claim. Data parallelism pays off "
            "across GPUs."
            if on_cpu
            else "Devices: GPUs of this machine."
        ),
    ]
    return Section(
        "Data parallel: several devices, one model",
        [paragraph for paragraph in paragraphs if paragraph],
        [
            "model",
            "framework",
            "devices",
            "single-device twin",
            "step ms (vs twin)",
            "samples/s (vs twin)",
            "test acc (vs twin)",
            "weights Δ",
            "same weights",
        ],
        rows,
    )


def sections(document: dict) -> list[Section]:
    """Every section of the report, in order. The statistics over repeats are read from `document`,
    filled in first where it lacks them (statistics.complete: the one place they are computed)."""
    statistics.complete(document)
    return [
        verdict_section(document),
        environment_section(document),
        summary_section(document),
        *filter(
            None,
            [
                repeats_section(document),
                time_to_target_section(document),
                regularization_section(document),
                data_parallel_section(document),
            ],
        ),
        parameters_section(document),
        history_section(document),
        timing_section(document),
        phases_section(document),
        *filter(None, [compilation_section(document), placement_section(document)]),
        data_path_section(document),
        problems_section(document),
        parity_section(document),
        *differences_sections(document),
    ]
