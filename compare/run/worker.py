"""One (model, framework) run in a process of its own.

    python -m compare.run.worker SPEC.json RESULT.json

The orchestrator sets KERAS_BACKEND (and the GPU variables) in this process's
environment before Python starts, so the framework is fixed before any import.
The worker loads the data, hands it to the framework's runner, and always
writes RESULT.json, also when the run fails, so the reason is never lost.
"""

from __future__ import annotations

import importlib
import os
import resource
import sys
import traceback
from pathlib import Path

import numpy as np

from compare.catalog.frameworks import FRAMEWORKS
from compare.catalog.registry import MODELS
from compare.contract.job import JobSpec
from compare.contract.results import RunStatus, write_json_atomic
from compare.data.datasets import unit_interval
from compare.porting.weights import save_weights
from compare.run import anatomy
from compare.run.runner_contract import Outcome, Prepared, Unsupported, time_to_target
from compare.run.timing import Phases, latency_ms, second_clock

TRACEBACK_TAIL_CHARS = 4000


def prepare(spec: JobSpec) -> Prepared:
    with np.load(spec.arrays) as arrays:  # verified by the parent (compare.harness.orchestrator)
        data = {name: arrays[name] for name in ("x_train", "y_train", "x_test", "y_test")}
    batch_size = spec.batch_size
    n_available = min(spec.train_samples or len(data["y_train"]), len(data["y_train"]))
    # A seeded draw, not the last images: the sample and MNIST are not ordered by
    # class, but a user's own IDX files might be.
    split = np.random.default_rng([spec.seed, 2**31]).permutation(n_available)
    # Data-parallel evaluation splits every batch evenly over the devices: trim the
    # validation and test sets to multiples of them (the usual sizes already are).
    devices = spec.devices
    n_val = round(n_available * spec.validation_fraction) // devices * devices
    val_index, train_index = np.sort(split[:n_val]), np.sort(split[n_val:])
    # Whole batches only: a smaller last batch has a new shape, which makes
    # XLA (TensorFlow, JAX) and torch.compile compile the step once more.
    train_index = train_index[: len(train_index) - len(train_index) % batch_size]
    if len(train_index) == 0:
        raise ValueError(
            f"batch_size={batch_size} is larger than the {n_available - n_val} training "
            f"images available; choose a smaller --batch-size."
        )
    n_test = min(spec.test_samples or len(data["y_test"]), len(data["y_test"])) // devices * devices

    orders = [np.random.default_rng([spec.seed, epoch]).permutation(len(train_index)) for epoch in range(spec.epochs)]
    return Prepared(
        unit_interval(data["x_train"][train_index]),
        data["y_train"][train_index].astype(np.int64),
        unit_interval(data["x_train"][val_index]),
        data["y_train"][val_index].astype(np.int64),
        unit_interval(data["x_test"][:n_test]),
        data["y_test"][:n_test].astype(np.int64),
        orders,
    )


def measure_latency(outcome: Outcome, spec: JobSpec, prepared: Prepared, phases: Phases) -> tuple[dict, list[int]]:
    """Inference latency at batch 1 and at a large batch, and the output's shape."""
    big = min(spec.inference_batch_size, len(prepared.y_test))
    with phases.phase("latency"):
        latency = {
            "inference_latency_ms_batch_1": latency_ms(lambda: outcome.predict(1), spec.latency_repeats),
            "inference_latency_ms_large_batch": latency_ms(lambda: outcome.predict(big), spec.latency_repeats),
            "inference_large_batch_size": big,
        }
        # The shape of a batch already compiled for: another size would compile once more (XLA).
        return latency, list(outcome.predict(big).shape)


def step_timing(outcome: Outcome, spec: JobSpec, prepared: Prepared, phases: Phases) -> dict:
    """The step clock's summary, and the second clock's, last: it trains on past the recorded weights."""
    timing = outcome.clock.summary(spec.batch_size)
    if outcome.steps_without_waiting is not None:
        available = len(prepared.epoch_orders) * (len(prepared.y_train) // spec.batch_size)
        with phases.phase("second_clock"):
            timing |= second_clock(outcome.steps_without_waiting, timing["step_time_ms_median"], available)
    return timing


def record(outcome: Outcome, spec: JobSpec, prepared: Prepared, phases: Phases) -> dict:
    latency, output_shape = measure_latency(outcome, spec, prepared, phases)
    timing = step_timing(outcome, spec, prepared, phases)
    return {
        "status": RunStatus.OK if outcome.diverged_at_step is None else RunStatus.DIVERGED,
        "diverged_at_step": outcome.diverged_at_step,
        "initial_weights": "shared" if spec.initial_weights else "own",
        "step0_max_abs_logit_diff": outcome.step0_max_abs_logit_diff,
        "model_info": {
            "output_shape": output_shape,
            "trainable_params": outcome.params[0],
            "non_trainable_params": outcome.params[1],
            "reference_params": list(outcome.reference_params) if outcome.reference_params else None,
        },
        "history": outcome.history,
        "final_test_loss": outcome.final_test["loss"],
        "final_test_accuracy": outcome.final_test["accuracy"],
        "early_stopping": outcome.early_stopping,
        "to_target": time_to_target(outcome.history, spec.target_accuracy),
        "timing": {**timing, **latency},
        "phases_s": phases.seconds,
        "memory": {"peak_device_memory_mb": outcome.peak_device_memory_mb, "peak_rss_mb": peak_rss_mb()},
        "settings": {
            "engine": outcome.engine,
            "jit_compile": outcome.jit_compile,
            "precision": outcome.precision_setting,
            "data_path": outcome.data_path,
            "compilation": outcome.compilation,
        },
        "device": outcome.device,
        "devices": spec.devices,
        "data_used": {
            "train_samples": len(prepared.y_train),
            "validation_samples": len(prepared.y_val),
            "test_samples": len(prepared.y_test),
        },
    }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def is_first_process() -> bool:
    """torchrun starts one worker per device (RANK 0, 1, ...); the first reports."""
    return os.environ.get("RANK", "0") == "0"


def run(spec: JobSpec) -> dict:
    framework = FRAMEWORKS[spec.framework]
    model_spec = MODELS[spec.model]
    phases = Phases()
    with phases.phase("data"):
        prepared = prepare(spec)
    with phases.phase("imports"):  # the framework itself, and everything the runner needs
        runner = importlib.import_module(framework.family.runner)
    outcome = runner.run(spec, prepared, model_spec, framework, phases)
    if not is_first_process():
        return {}  # the first process reports for all of them
    if spec.final_weights:
        save_weights(Path(spec.final_weights), outcome.final_state())
    result = record(outcome, spec, prepared, phases)
    if spec.sweep_batch_sizes and outcome.step_times is not None:  # last: it trains on past every record
        with phases.phase("sweep"):
            result["anatomy"] = where_the_time_goes(outcome, spec)
    return result


def where_the_time_goes(outcome: Outcome, spec: JobSpec) -> dict:
    """The sweep over batch sizes, and the step at the comparison's batch size in phases, the whole
    step timed the sweep's way (its point, when the sweep holds that size) just before its parts."""
    found = anatomy.sweep(outcome.step_times, spec.sweep_batch_sizes, spec.warmup_steps)
    if outcome.step_parts is not None:
        swept = next((p for p in found["points"] if p["batch_size"] == spec.batch_size), None)
        whole = swept or anatomy.time_batch_size(outcome.step_times, spec.batch_size, spec.warmup_steps)
        parts = outcome.step_parts()
        found["step_phases_ms"] = anatomy.step_phases(
            parts, whole["step_time_ms_median"], spec.batch_size, spec.warmup_steps
        )
    return found


def main(argv: list[str]) -> int:
    spec_path, result_path = map(Path, argv)
    spec = JobSpec.read(spec_path)
    result = {"model": spec.model, "framework": spec.framework}
    try:
        result.update(run(spec))
        code = 0
    except ModuleNotFoundError as error:
        result.update(status=RunStatus.NOT_INSTALLED, error={"reason": f"{error}"})
        code = 3
    except Unsupported as error:  # the machine lacks a kernel: recorded with the framework's reason
        result.update(status=RunStatus.UNSUPPORTED, error={"reason": f"{error}"})
        code = 4
    except Exception as error:  # recorded, never fatal to the other runs
        result.update(
            status=RunStatus.FAILED,
            error={
                "reason": f"{type(error).__name__}: {error}",
                "traceback": traceback.format_exc()[-TRACEBACK_TAIL_CHARS:],
            },
        )
        code = 1
    if is_first_process():
        write_json_atomic(result_path, result)
    family = FRAMEWORKS[spec.framework].family
    if code == 0 and spec.devices > 1 and family.process_per_device:
        # A failed process exits at once instead: torchrun then stops the others.
        importlib.import_module(family.runner).leave_together()
    return code


if __name__ == "__main__":
    status = main(sys.argv[1:])
    # RESULT.json is written and closed: skip the interpreter's teardown, which with
    # TensorFlow, JAX or torch loaded costs a second or more of every run's wall time.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
