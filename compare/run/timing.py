"""Summaries of measured times; pure Python, shared by both runners."""

from __future__ import annotations

import contextlib
import math
import statistics
import time
from collections.abc import Callable, Iterator


def step_summary(step_times_s: list[float]) -> dict[str, float | int | None]:
    """Median and interquartile range, in milliseconds, of steady-state steps."""
    if not step_times_s:
        return {
            "step_time_ms_median": None,
            "step_time_ms_iqr": None,
            "step_time_ms_q1": None,
            "step_time_ms_q3": None,
            "steady_steps": 0,
        }
    ms = [t * 1e3 for t in step_times_s]
    if len(ms) >= 2:
        q1, _, q3 = statistics.quantiles(ms, n=4, method="inclusive")
    else:
        q1 = q3 = ms[0]
    return {
        "step_time_ms_median": statistics.median(ms),
        "step_time_ms_iqr": q3 - q1,
        "step_time_ms_q1": q1,
        "step_time_ms_q3": q3,
        "steady_steps": len(ms),
    }


class Phases:
    """Seconds spent in each named phase of a run: imports, data, model build and
    weights, first step, training, evaluation, latency. The phases do not overlap,
    so their sum against the process's wall time shows what the harness costs."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - started)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds


def median_ms(times_s: list[float]) -> float:
    return statistics.median(times_s) * 1e3


class StepClock:
    """Timestamps of training-step ends, turned into the timing figures.

    The caller synchronizes the device (reads the loss on the host) before each
    `tick()`, so a step's time is the time its result took to exist, not the
    time it took to be queued. Step durations are taken between consecutive
    ticks of one epoch, so they include fetching the batch, as a user sees it.
    """

    def __init__(self, warmup_steps: int):
        self.warmup_steps = warmup_steps
        self.started_at: float | None = None
        self.time_to_first_step_s: float | None = None
        self.steady: list[float] = []  # durations after compilation and warm-up
        self._last_tick: float | None = None
        self._ticks_seen = 0

    def start(self) -> None:
        """Call once, right before the first training step is requested."""
        self.started_at = time.perf_counter()

    def elapsed_s(self) -> float:
        """Wall time since the first step was requested."""
        return time.perf_counter() - self.started_at

    def new_epoch(self) -> None:
        self._last_tick = None

    def tick(self) -> None:
        now = time.perf_counter()
        if self.time_to_first_step_s is None:
            self.time_to_first_step_s = now - self.started_at
        elif self._last_tick is not None and self._ticks_seen > self.warmup_steps:
            self.steady.append(now - self._last_tick)
        self._last_tick = now
        self._ticks_seen += 1

    def summary(self, batch_size: int) -> dict:
        figures = {"time_to_first_step_s": self.time_to_first_step_s, **step_summary(self.steady)}
        median = figures["step_time_ms_median"]
        figures["samples_per_s"] = batch_size / (median / 1e3) if median else None
        return figures


class CompileWatch:
    """Counts the frames torch.compile compiles while training, after the first step:
    a steady state compiles nothing more. Evaluation windows are left out, so a
    compiled evaluation (Keras' jit on torch) is not counted as a recompilation.
    `frames` reads Dynamo's running count; None where torch.compile is not in use."""

    def __init__(self, frames: Callable[[], int] | None):
        self.frames = frames
        self.after_first_step = 0
        self._mark: int | None = None

    def first_step_done(self) -> None:
        if self.frames:
            self._mark = self.frames()

    def evaluation_starts(self) -> None:
        if self._mark is not None:
            self.after_first_step += self.frames() - self._mark

    def evaluation_done(self) -> None:
        if self._mark is not None:
            self._mark = self.frames()


LATENCY_MIN_REPEATS = 3


def latency_ms(predict: Callable[[], object], repeats: int, budget_s: float = 0.5) -> float:
    """Median wall time of `predict()` (which must return host data) after 2 warm-up calls.

    Takes `repeats` measurements, or fewer (at least 3) once `budget_s` is spent,
    so a large batch on a slow CPU does not dominate the run.
    """
    for _ in range(2):
        predict()
    times: list[float] = []
    while len(times) < repeats and (len(times) < LATENCY_MIN_REPEATS or sum(times) < budget_s):
        start = time.perf_counter()
        predict()
        times.append(time.perf_counter() - start)
    return median_ms(times)


# The second clock's two windows: a short one, and a long one whose extra steps should last
# about SECOND_CLOCK_WINDOW_S by the first clock, within these bounds.
SECOND_CLOCK_SHORT_STEPS = 2
SECOND_CLOCK_WINDOW_S = 0.5
SECOND_CLOCK_MIN_STEPS, SECOND_CLOCK_MAX_STEPS = 5, 200


def second_clock(steps_without_waiting: Callable[[int], float], step_ms: float | None, available: int) -> dict:
    """Step time by a clock that waits once per window instead of once per step.

    Two windows of steps that never wait for their losses, each timed from its first
    request to its last loss on the host; the difference of the two over the steps
    between them cancels what a window costs besides its steps (a `fit` call's set-up,
    the one wait). `available`: the training batches there are to take steps on.
    """
    if step_ms is None or not step_ms > 0:
        return {"step_time_ms_one_wait": None, "one_wait_steps": 0}
    wanted = math.ceil(SECOND_CLOCK_WINDOW_S * 1e3 / step_ms)
    extra = min(max(wanted, SECOND_CLOCK_MIN_STEPS), SECOND_CLOCK_MAX_STEPS, available - SECOND_CLOCK_SHORT_STEPS)
    if extra < 1:
        return {"step_time_ms_one_wait": None, "one_wait_steps": 0}
    short_s = steps_without_waiting(SECOND_CLOCK_SHORT_STEPS)
    long_s = steps_without_waiting(SECOND_CLOCK_SHORT_STEPS + extra)
    return {"step_time_ms_one_wait": (long_s - short_s) / extra * 1e3, "one_wait_steps": extra}
