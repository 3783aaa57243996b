"""What a runner receives and hands back: the contract between the worker and the
two runners (compare.run.keras_runner, compare.run.torch_runner). It sits below all three,
so a runner never imports its caller. NumPy only: no framework.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from compare.contract.job import JobSpec
from compare.contract.progress import Reporter
from compare.porting.weights import StateDict
from compare.run.timing import CompileWatch, Phases, StepClock

T = TypeVar("T")


class Unsupported(Exception):
    """The framework cannot compute this precision for this model on this machine (a
    kernel the CPU or GPU lacks); the message is the framework's own reason."""


def unless_unsupported(work: Callable[[], T], precision: str, smallest_case_fp32: Callable[[], object]) -> T:
    """`work()`, or Unsupported when it fails at a reduced precision while the smallest
    case of the same model (a step on two images) runs in float32: then the machine,
    not the model, is what failed. Any other failure is raised as it is."""
    try:
        return work()
    except Exception as error:
        if precision == "fp32":
            raise
        try:
            smallest_case_fp32()
        except Exception:
            raise error from None  # fails in float32 too: not the precision's doing
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise Unsupported(f"{precision} is not supported here ({type(error).__name__}: {reason})") from error


@dataclasses.dataclass(frozen=True)
class Prepared:
    """Data every framework receives identically: images scaled to [0, 1] as
    float32 (B, 28, 28), int64 labels, and one shared shuffling order per epoch.
    The validation split (empty unless early stopping asked for one) is carved
    from the training images."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    epoch_orders: list[np.ndarray]

    def shaped(self, as_model_takes: Callable[[np.ndarray], np.ndarray]) -> Prepared:
        """The same data with every image split reshaped (a view, no copy) as a twin takes it."""
        images = {name: as_model_takes(getattr(self, name)) for name in ("x_train", "x_val", "x_test")}
        return dataclasses.replace(self, **images)


@dataclasses.dataclass
class Outcome:
    """What a runner hands back; `record()` turns it into the result's JSON."""

    engine: str  # "tensorflow", "jax" or "torch": what computed
    params: tuple[int, int]  # (trainable, non-trainable), see compare.porting.params
    reference_params: tuple[int, int] | None  # None: a user's twins declare no counts
    history: list[dict]  # one entry per epoch
    clock: StepClock
    diverged_at_step: int | None
    step0_max_abs_logit_diff: float | None  # vs the shared initial weights' reference logits
    predict: Callable[[int], object]  # logits of the first n test images, on the host
    final_test: dict  # {"loss", "accuracy"} of the weights the run ends with
    final_state: Callable[[], StateDict]  # those weights, in the neutral layout (compare.porting.weights)
    early_stopping: dict | None  # {"patience", "best_epoch", "stopped_epoch"} when it was on
    jit_compile: bool | str  # what compile(jit_compile=...) resolved to, or whether torch.compile ran
    compilation: dict | None  # torch.compile's mode, graphs, graph breaks and recompiles, where it ran
    precision_setting: str  # how the chosen precision (JobSpec.precision) was set, in the engine's words
    data_path: str  # how a batch reaches the device
    device: dict
    peak_device_memory_mb: float | None
    # The second clock: n more training steps that never wait for their losses; seconds until
    # the last loss is on the host. None where it is not measured (data-parallel runs).
    steps_without_waiting: Callable[[int], float] | None = None
    # (batch size, steps) → each step's seconds, waited for: the sweep of compare.run.anatomy
    step_times: Callable[[int, int], list[float]] | None = None
    # The step at the comparison's batch size in parts (compare.run.engines.StepParts), made on demand
    step_parts: Callable[[], object] | None = None


class TrainingLog:
    """What both runners record while training, the same way: every step timed (the
    caller has read its loss on the host), the first non-finite loss, the test set
    evaluated after every epoch, progress reported, and the target checked. The torch
    loop calls it directly; Keras' runner through a callback."""

    def __init__(self, spec: JobSpec, evaluate_test: Callable[[], dict], progress: Reporter, compiles: CompileWatch):
        self.spec, self.evaluate_test, self.progress, self.compiles = spec, evaluate_test, progress, compiles
        self.clock = StepClock(spec.warmup_steps)
        self.history: list[dict] = []
        self.evaluation_s = 0.0  # spent in evaluate_test
        self.steps_done = 0
        self.diverged_at_step: int | None = None

    def epoch_begins(self, epoch: int) -> None:
        """Before the first step of `epoch` (1-based)."""
        self.clock.new_epoch()
        self.epoch = epoch
        self.started = self.trained = time.perf_counter()

    def step_done(self, step: int, loss: float, running: Callable[[], tuple[float, float]]) -> None:
        """After `step` (1-based) of the epoch; `running()` gives the epoch's running
        (loss, accuracy), read only when progress is shown."""
        self.clock.tick()
        self.trained = time.perf_counter()
        self.steps_done += 1
        if self.steps_done == 1:
            self.compiles.first_step_done()
        if not math.isfinite(loss) and self.diverged_at_step is None:
            self.diverged_at_step = self.steps_done
        if self.progress.wants_step():
            self.progress.step(self.epoch, step, *running())

    def epoch_done(self, train: dict, val: dict | None) -> bool:
        """Evaluates the test set and records the epoch; True when --until-target ends the run here."""
        self.compiles.evaluation_starts()
        started = time.perf_counter()
        test = self.evaluate_test()
        self.evaluation_s += time.perf_counter() - started
        self.compiles.evaluation_done()
        self.history.append(
            epoch_record(self.epoch, train, val, test, self.trained - self.started, self.clock.elapsed_s())
        )
        self.progress.epoch_end(self.history[-1])
        return stops_at_target(self.spec, test)

    def add_phases(self, phases: Phases, fit_started: float) -> None:
        """Splits the time since `fit_started` into first step, evaluation and training."""
        first_step = self.clock.time_to_first_step_s or 0.0
        phases.add("first_step", first_step)
        phases.add("evaluation", self.evaluation_s)
        phases.add("training", time.perf_counter() - fit_started - self.evaluation_s - first_step)


def model_arguments(spec: JobSpec) -> dict:
    """Constructor arguments for either twin: a dropout rate when the run sets one."""
    rate = spec.regularization.dropout_rate
    return {} if rate is None else {"dropout_rate": rate}


def stops_at_target(spec: JobSpec, test: dict) -> bool:
    """--until-target: this epoch's test accuracy reached the model's target, so the run ends here."""
    return spec.until_target and test["accuracy"] >= spec.target_accuracy


def time_to_target(history: list[dict], target: float | None) -> dict:
    """MLPerf's and DAWNBench's measure: wall time from the request of the first step to the
    end of the evaluation of the first epoch that reaches the target, compilation and
    evaluations included; None when no epoch reached it (or there is no target)."""
    reached = next(
        (
            epoch
            for epoch in history
            if target is not None and epoch["test_accuracy"] is not None and epoch["test_accuracy"] >= target
        ),
        None,
    )
    return {
        "target_accuracy": target,
        "epochs_to_target": reached["epoch"] if reached else None,
        "time_to_target_s": reached["elapsed_s"] if reached else None,
    }


def epoch_record(epoch: int, train: dict, val: dict | None, test: dict, epoch_time_s: float, elapsed_s: float) -> dict:
    """One history entry; every *_loss is the loss being minimized (cross-entropy,
    plus the L2 penalty when --l2 is set: Keras' definition of `loss`)."""
    return {
        "epoch": epoch,
        "train_loss": train["loss"],
        "train_accuracy": train["accuracy"],  # running mean over the epoch, in training mode
        "val_loss": val["loss"] if val else None,
        "val_accuracy": val["accuracy"] if val else None,
        "test_loss": test["loss"],
        "test_accuracy": test["accuracy"],
        "epoch_time_s": epoch_time_s,
        "elapsed_s": elapsed_s,  # since the first step was requested, this epoch's evaluation included
    }
