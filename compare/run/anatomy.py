"""Where a step's time goes: its time at several batch sizes, and the line t(B) = a + b·B through
them. `a` is what a step costs whatever its size (Python dispatch, the framework's step machinery,
kernel launches), `b` what each sample adds; they call for different remedies.

Pure Python and NumPy; each runner hands the worker `step_times(batch_size, steps)`: that many
training steps of that size through the framework's own training step (Keras' `fit`, the workshop's
torch loop), each timed until its loss is on the host, the same wait as the comparison's step clock.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable

import numpy as np

from compare.run.timing import step_summary

# Timed steps per batch size, after the first (compiling) one and the warm-up: as many as fill about a
# second, at least 10 and at most 100, so that quick steps are timed often enough to hold still.
MIN_STEPS, MAX_STEPS, TIMED_S = 10, 100, 1.0
LINE_HOLDS_PCT = 15.0  # a fit whose every point lies within this of the line is called a line
OVERHEAD_SHARE = 0.1  # the fixed cost under this share of a step: no longer overhead-bound


StepTimes = Callable[[int, int], list[float]]  # (batch size, steps) → each step's seconds


def time_batch_size(step_times: StepTimes, batch_size: int, warmup_steps: int) -> dict:
    """One batch size: the first step (a compiled framework compiles for the new shape; timed apart)
    and `warmup_steps` more, then the timed steps in a call of their own, whose first is left out
    (a new `fit` starts its data iterator there)."""
    started = step_times(batch_size, 1 + warmup_steps)
    estimate = sorted(started[1:])[len(started[1:]) // 2] if warmup_steps else started[0]
    steps = min(MAX_STEPS, max(MIN_STEPS, math.ceil(TIMED_S / max(estimate, 1e-6))))
    timed = step_times(batch_size, 1 + steps)[1:]
    return {"batch_size": batch_size, "first_step_s": started[0], **step_summary(timed)}


def fit_line(batch_sizes: list[int], step_ms: list[float]) -> dict:
    """t(B) = a + b·B by least squares on relative errors (each point weighted by 1/t: the points span
    orders of magnitude, and their noise is a share of each), with each point's residual in percent
    of its own time and the batch size above which the fixed cost is under 10% of the step."""
    sizes, times = np.asarray(batch_sizes, dtype=float), np.asarray(step_ms, dtype=float)
    per_sample_ms, fixed_ms = np.polyfit(sizes, times, deg=1, w=1.0 / times)
    residuals = 100.0 * (times - (fixed_ms + per_sample_ms * sizes)) / times
    bound = fixed_ms * (1 - OVERHEAD_SHARE) / (OVERHEAD_SHARE * per_sample_ms) if fixed_ms > 0 < per_sample_ms else None
    return {
        "fixed_ms": float(fixed_ms),
        "per_sample_us": float(per_sample_ms * 1e3),
        "residuals_pct": [float(r) for r in residuals],
        "line_holds": bool(np.all(np.abs(residuals) <= LINE_HOLDS_PCT)),
        "overhead_bound_below_batch": None if bound is None else float(bound),
    }


def sweep(step_times: StepTimes, batch_sizes: tuple[int, ...], warmup_steps: int) -> dict:
    """The step at each batch size (the raw points) and the line through their medians."""
    points = [time_batch_size(step_times, size, warmup_steps) for size in batch_sizes]
    line = fit_line([p["batch_size"] for p in points], [p["step_time_ms_median"] for p in points])
    return {"points": points, **line}


PHASE_STEPS = 20  # timed calls of each part, after the first (compiling) one and the warm-up


def median_ms(call: Callable[[], object], warmup_steps: int) -> tuple[float, object]:
    """The median of a part's timed calls, in ms, and what its last call returned."""
    for _ in range(1 + warmup_steps):
        result = call()
    durations = []
    for _ in range(PHASE_STEPS):
        started = time.perf_counter()
        result = call()
        durations.append(time.perf_counter() - started)
    return statistics.median(durations) * 1e3, result


def step_phases(parts, step_ms: float, batch_size: int, warmup_steps: int) -> dict:
    """The step at the comparison's batch size in phases, each timed apart with its own wait: the
    forward pass and loss, the gradients (forward, loss and gradients, less the forward), the
    optimizer's update, and `other`, the measured step less the three: the trainer's machinery
    (Keras' `fit`: callbacks, metrics, the data iterator; the torch loop's zero_grad and batch),
    signed, since a framework that compiles the whole step fuses what the parts compile apart."""
    forward_ms, _ = median_ms(parts.forward, warmup_steps)
    with_gradients_ms, gradients = median_ms(parts.gradients, warmup_steps)
    update_ms, _ = median_ms(lambda: parts.update(gradients), warmup_steps)
    phases = {"forward_and_loss": forward_ms, "gradients": with_gradients_ms - forward_ms, "update": update_ms}
    return {"batch_size": batch_size, "step": step_ms, **phases, "other": step_ms - sum(phases.values())}
