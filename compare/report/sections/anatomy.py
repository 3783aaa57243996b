"""Where the time goes: each framework's fixed cost per step against its cost per sample, from the
batch-size sweep (--batch-sizes), and a sentence per framework saying which of the two makes its
gap to plain torch."""

from __future__ import annotations

from compare.report.anatomy_view import PHASES, Swept, explanation, swept_cells
from compare.report.columns import cell, table
from compare.report.sections.common import Section, fmt, interval_text
from compare.report.statistics import BASELINE


def cost_text(swept: Swept, key: str, spec: str) -> str:
    interval = swept.interval(key)
    return fmt(swept.cost(key), spec) + (f" {interval_text(interval, spec)}" if interval else "")


def line_text(swept: Swept) -> str:
    largest = swept.largest_residual_pct()
    return f"holds (within {largest:.0f}%)" if swept.line_holds() else f"does not hold (off by up to {largest:.0f}%)"


ANATOMY_COLUMNS = [
    cell("model", lambda s: s.model),
    cell("framework", lambda s: s.framework),
    cell("fixed ms per step", lambda s: cost_text(s, "fixed_ms", ".2f")),
    cell("µs per sample", lambda s: cost_text(s, "per_sample_us", ".1f")),
    cell("the line", line_text),
    cell("overhead-bound below batch", lambda s: s.overhead_bound_below(), ",.0f"),
    cell("step ms at each batch size", lambda s: ", ".join(f"{b}: {t:.3g}" for b, t in s.points().items())),
]


def phase_column(phase: str):
    spec = "+.2f" if phase == "other" else ".2f"  # other is signed
    return cell(f"{phase.replace('_', ' ')} ms", lambda s: (s.phases() or {}).get(phase), spec)


PHASE_COLUMNS = [
    cell("model", lambda s: s.model),
    cell("framework", lambda s: s.framework),
    cell("batch", lambda s: s.batch_size),
    cell("step ms", lambda s: (s.phases() or {}).get("step"), ".2f"),
    *(phase_column(phase) for phase in PHASES),
]


def step_phases_section(cells: list[Swept]) -> Section | None:
    with_phases = [swept for swept in cells if swept.phases()]
    if not with_phases:
        return None
    return Section(
        "A step in phases",
        [
            "The step at the comparison's batch size, timed as the sweep times it, then in its parts, each part "
            "timed apart and waited for as the step clock waits, written with the framework's own API the way its "
            "trainer writes it: the forward pass and loss; the gradients (forward, loss and gradients, less the "
            "forward: torch autograd, `tf.GradientTape`, `jax.grad` over `stateless_call`); the optimizer's update. "
            "Other: the step less the three, the trainer's machinery (Keras' `fit`: callbacks, metrics, the data "
            "iterator; the torch loop: zero_grad, the batch). Where the framework compiles the whole step into one "
            "program (Keras on JAX, torch.compile), the parts compiled apart lose the fusion and other can be "
            "negative: it is shown signed, never hidden.",
        ],
        *table(PHASE_COLUMNS, with_phases),
        level=3,
    )


def sentences(cells: list[Swept]) -> list[str]:
    """Per model, each framework against plain torch."""
    torch = {swept.model: swept for swept in cells if swept.framework == BASELINE}
    return [
        explanation(swept, torch[swept.model])
        for swept in cells
        if swept.framework != BASELINE and swept.model in torch
    ]


def anatomy_sections(document: dict) -> list[Section]:
    """Where the time goes, and a step in phases; none without a sweep."""
    cells = swept_cells(document)
    return [section for section in (anatomy_section(cells), step_phases_section(cells)) if section]


def anatomy_section(cells: list[Swept]) -> Section | None:
    if not cells:
        return None
    return Section(
        "Where the time goes: fixed cost per step, cost per sample",
        [
            "After its training, each run timed its own training step (Keras' `fit`, the torch loop) at each batch "
            "size of the sweep, each step waiting for its loss as the step clock does, the first step at a new size "
            "(a compiled framework compiles for it) left out. Through the medians, a line t(B) = a + b·B, fitted on "
            "relative errors: a, the fixed cost of a step whatever its size (Python, the framework's step machinery, "
            "kernel launches); b, what each sample adds. Overhead-bound below batch: where a is more than 10% of a "
            "step. Where the line does not hold (cache effects, kernels chosen per shape), read a and b with care.",
            *sentences(cells),
        ],
        *table(ANATOMY_COLUMNS, cells),
    )
