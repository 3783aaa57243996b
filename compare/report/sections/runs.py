"""The runs one by one: the summary, the parameters and step-0 parity, each epoch, and the runs
that did not finish."""

from __future__ import annotations

from compare.catalog.registry import MODELS
from compare.contract.results import RunStatus
from compare.report.columns import RUN, Column, RunView, cell, run_views, table
from compare.report.sections.common import Section, finished_runs, fmt, framework_label, percent
from compare.report.statistics import BASELINE, model_label


def target_text(document: dict, run: dict) -> str:
    """The run's final accuracy against the preset's target for its model and dataset."""
    target = document["settings"]["targets"].get(run["model"])
    if target is None or run["final_test_accuracy"] is None:
        return "—"
    reached = run["final_test_accuracy"] >= target
    return f"{'met' if reached else 'MISSED'} (≥ {target:.1%})"


def median_and_iqr(view: RunView) -> str | None:
    return f"{fmt(view.step_ms, '.2f')} ± {fmt(view.timing('step_time_ms_iqr'), '.2f')}" if view.finished else None


SUMMARY_COLUMNS = [
    Column("model", "model", lambda r: model_label(r.run)),
    Column("framework", "framework", lambda r: framework_label(r.document, r.run)),
    RUN["status"],
    RUN["final_test_accuracy_pct"],
    Column("target", "target", lambda r: target_text(r.document, r.run) if r.finished else None),
    Column("step_time_ms", "step ms (median ± IQR)", median_and_iqr),
    RUN["step_time_vs_torch"],
    RUN["samples_per_s"],
    RUN["time_to_first_step_s"],
]


def summary_section(document: dict) -> Section:
    return Section(
        "Summary",
        [
            "Step time: median over steady-state training steps ± interquartile range, in ms; "
            "each step waits for its loss on the host, so device work is finished. The first "
            f"step (tracing, compilation) and the next {document['settings'].get('warmup_steps', 0)} "
            f"are left out and reported as time to first step. Ratio: step time over plain "
            f"`{BASELINE}`'s for the same model (lower is faster).",
        ],
        *table(SUMMARY_COLUMNS, run_views(document)),
    )


def params_verdict(counts: list[int], reference: list[int] | None) -> str:
    """Whether a run's (trainable, non-trainable) counts are the catalog's."""
    if reference is None:
        return "not declared (a user's twins)"
    return "yes" if counts == reference else f"NO: expected {reference[0]:,} / {reference[1]:,}"


def counts(run: dict) -> list[int]:
    return [run["model_info"]["trainable_params"], run["model_info"]["non_trainable_params"]]


def step0_text(run: dict) -> str:
    shared = run.get("initial_weights") == "shared"
    return fmt(run.get("step0_max_abs_logit_diff"), ".1e") if shared else "own init"


PARAMETER_COLUMNS = [
    cell("model", model_label),
    cell("framework", lambda run: run["framework"]),
    cell("trainable", lambda run: run["model_info"]["trainable_params"], ","),
    cell("non-trainable", lambda run: run["model_info"]["non_trainable_params"], ","),
    cell("output shape", lambda run: str(tuple(run["model_info"]["output_shape"]))),
    cell("matches the reference", lambda run: params_verdict(counts(run), run["model_info"]["reference_params"])),
    cell("step-0 Δ", step0_text),
]


def parameters_section(document: dict) -> Section:
    runs = finished_runs(document)
    notes = [
        f"**{name}**: {MODELS[name].why_counts_differ}"
        for name in dict.fromkeys(run["model"] for run in runs)
        if name in MODELS and MODELS[name].why_counts_differ
    ]
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
        *table(PARAMETER_COLUMNS, runs),
    )


# One row per (run, epoch): the run and one entry of its history.
EPOCH_COLUMNS = [
    cell("model", lambda e: model_label(e[0])),
    cell("framework", lambda e: e[0]["framework"]),
    cell("epoch", lambda e: str(e[1]["epoch"])),
    cell("train loss", lambda e: fmt(e[1]["train_loss"], ".4f")),
    cell("train acc", lambda e: percent(e[1]["train_accuracy"])),
    cell("val loss", lambda e: fmt(e[1]["val_loss"], ".4f")),
    cell("val acc", lambda e: percent(e[1]["val_accuracy"])),
    cell("test loss", lambda e: fmt(e[1]["test_loss"], ".4f")),
    cell("test acc", lambda e: percent(e[1]["test_accuracy"])),
    cell("epoch s", lambda e: fmt(e[1]["epoch_time_s"], ".2f")),
]


def history_section(document: dict) -> Section:
    epochs = [(run, epoch) for run in finished_runs(document) for epoch in run["history"]]
    return Section(
        "Per epoch",
        [
            "Train loss and accuracy: running means over the epoch's batches in training mode (dropout and "
            "augmentation on), as Keras' `fit` reports them. Losses include the L2 penalty when one is set "
            "(Keras' definition of `loss`). Validation: the split early stopping watches, when there is one. "
            "Epoch time: the training loop only; the first epoch includes compilation."
        ],
        *table(EPOCH_COLUMNS, epochs),
    )


def problem_reason(run: dict) -> str:
    if run["status"] == RunStatus.DIVERGED:
        return f"loss became NaN or infinite at step {run['diverged_at_step']}"
    return run.get("error", {}).get("reason", "")


PROBLEM_COLUMNS = [
    cell("model", model_label),
    cell("framework", lambda run: run["framework"]),
    cell("status", lambda run: str(run["status"])),
    cell("reason", problem_reason),
]


def problems_section(document: dict) -> Section:
    problems = [run for run in document["runs"] if run["status"] != RunStatus.OK]
    paragraphs = ["Each worker's full output is in `runs/<model>--<framework>.log`."] if problems else []
    return Section("Runs that did not finish", paragraphs or ["Every run finished."], *table(PROBLEM_COLUMNS, problems))
