"""The lessons' sections: parity of the twins on each Keras backend, and each framework
difference as the checks measured it. What each lesson teaches is told beside it, in
compare.lessons; here it is read back from the results."""

from __future__ import annotations

from dataclasses import dataclass

from compare.report.columns import cell, table
from compare.report.sections.common import Section


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


@dataclass(frozen=True)
class ParityRow:
    """One model's parity on one backend; `error` when the check (or the backend's child) failed."""

    backend: str
    model: str
    inference: dict
    training: dict
    error: str | None = None

    def measured(self, value):
        """`value` of this row's training record, or None (shown "—") when there is none."""
        return None if self.error else value(self.training)


def parity_rows(backend: str, checks: dict) -> list[ParityRow]:
    if "error" in checks:
        return [ParityRow(backend, "—", {}, {}, f"check failed: {checks['error']}")]
    rows = []
    for model, parity in checks["parity"].items():
        inference, training = parity["inference"], parity["training"]
        rows.append(ParityRow(backend, model, inference, training, inference.get("error") or training.get("error")))
    return rows


def batch_norm_text(training: dict) -> str:
    if "bn_running_mean_max_abs_diff" not in training:
        return "—"
    return f"mean {training['bn_running_mean_max_abs_diff']:.1e}, var {training['bn_running_var_max_rel_diff']:.1e} rel"


def sgd_text(training: dict) -> str:
    relative = training["sgd_relative_weight_diff"]
    return f"{training['sgd_max_abs_weight_diff']:.1e} ({relative:.1e} of the largest update)"


def within_text(row: ParityRow) -> str | None:
    return None if row.error else ("yes" if row.inference["passed"] and row.training["passed"] else "NO")


def lstm_bias_step(training: dict) -> float | None:
    return training.get("lstm_summed_bias_step_ratio_torch_over_keras")


PARITY_COLUMNS = [
    cell("backend", lambda r: r.backend),
    cell("model", lambda r: r.model),
    cell("inference Δ", lambda r: r.error or f"{r.inference['max_abs_logit_diff']:.1e}"),
    cell("loss Δ", lambda r: r.measured(lambda t: f"{t['loss_diff']:.1e}")),
    cell("SGD weights Δ", lambda r: r.measured(sgd_text)),
    cell("BatchNorm stats Δ", lambda r: r.measured(batch_norm_text)),
    cell("LSTM bias step", lambda r: r.measured(lstm_bias_step), ".2f", "×"),
    cell("Adam weights Δ", lambda r: r.measured(lambda t: f"{t['adam_max_abs_weight_diff']:.1e}")),
    cell("within tolerance", within_text),
]


def parity_section(document: dict) -> Section:
    from_checks = checks_by_backend(document)
    tolerances = parity_tolerances(from_checks)
    rows = [row for backend, checks in from_checks.items() for row in parity_rows(backend, checks)]
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
        *table(PARITY_COLUMNS, rows),
    )


def difference_section(key: str, outcomes: dict[str, dict]) -> Section:
    """One difference, told once and measured on every backend."""
    told = next((outcome for outcome in outcomes.values() if "title" in outcome), None)
    measured = [
        f"Measured on {backend}: {outcome.get('summary') or outcome.get('error', 'not run')}."
        for backend, outcome in outcomes.items()
    ]
    paragraphs = [told["explanation"], *measured, f"Fix: `{told['fix']}`"] if told else measured
    return Section(told["title"] if told else key, paragraphs, level=3)


def differences_sections(document: dict) -> list[Section]:
    from_checks = {b: c for b, c in checks_by_backend(document).items() if "differences" in c}
    if not from_checks:
        return []
    keys = dict.fromkeys(key for checks in from_checks.values() for key in checks["differences"])
    return [
        Section(
            "Framework differences",
            [
                "Each difference below is measured by an executed check (compare.lessons.differences) on every Keras "
                "backend listed; the numbers are this run's.",
            ],
        ),
        *(difference_section(key, {b: c["differences"].get(key, {}) for b, c in from_checks.items()}) for key in keys),
    ]
