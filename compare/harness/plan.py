"""The plan of a comparison and its jobs: what runs, in which order, from which seed, with what
spec, and the settings the results record. Imports no framework.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from compare.catalog.frameworks import FRAMEWORKS
from compare.catalog.registry import ADAM_EPSILON, MODELS, VALIDATION_FRACTION, Budget, Preset, Regularization
from compare.contract.job import JobSpec, RunSettings
from compare.data.datasets import Dataset

WARMUP_STEPS = 3  # steps after the first (compiling) one left out of the steady state
LATENCY_REPEATS = 20
EVAL_BATCH_SIZE = 1000
# The large-batch latency: 1,000 images on a GPU; on a CPU, where one such
# prediction of ResNetV2 takes seconds, 64 keep its repeats affordable.
INFERENCE_BATCH_SIZE = {"gpu": 1000, "cpu": 64}


@dataclass(frozen=True)
class Plan:
    preset: Preset
    budgets: dict[str, Budget]  # the preset's, after --epochs/--batch-size
    models: list[str]
    frameworks: list[str]
    frameworks_chosen: bool  # named by the user: a missing one is then a failure
    data: Dataset
    targets: dict[str, float]  # {model: test accuracy every framework must reach}; {} when none applies
    settings: RunSettings  # what every run shares and its results depend on
    timeout_s: int
    out: Path
    checks: bool = True  # run the parity and difference checks on one backend first
    deploy: bool = False  # then serve every trained model by each export route (compare.harness.deployment)
    variants: tuple[Regularization, ...] = field(default=(Regularization(),))
    repeats: int = 1  # repeat i trains every framework from seed `settings.seed + i`

    @property
    def validation_fraction(self) -> float:
        return VALIDATION_FRACTION if any(v.early_stopping_patience for v in self.variants) else 0.0


def settings_record(plan: Plan) -> dict:
    return {
        "preset": plan.preset.name,
        "preset_description": plan.preset.description,
        **asdict(plan.settings),
        "repeats": plan.repeats,
        "adam_epsilon": ADAM_EPSILON,
        "warmup_steps": WARMUP_STEPS,
        "latency_repeats": LATENCY_REPEATS,
        "timeout_s": plan.timeout_s,
        "validation_fraction": plan.validation_fraction,
        "variants": [asdict(variant) for variant in plan.variants],
        "data": {
            "dataset": plan.data.name,
            "kind": "sample" if plan.data.is_sample else "full",
            "source": plan.data.describe(),
            "is_full": plan.data.is_full,
        },
        "targets": plan.targets,
        "models": plan.models,
        "frameworks": plan.frameworks,
    }


@dataclass(frozen=True)
class Job:
    """One run of the comparison: a (model, variant, framework) in one repeat."""

    model: str
    variant: Regularization
    framework: str
    repeat: int  # 0-based
    seed: int  # the plan's seed + repeat: weights, data order, dropout and augmentation
    position: int  # the framework's turn within its model and repeat, 0-based

    @property
    def key(self) -> tuple[str, str, str, int]:
        return (self.model, self.framework, self.variant.name, self.repeat)


def plan_jobs(plan: Plan) -> list[Job]:
    """Every run, repeat after repeat. Within a repeat each model's frameworks run in
    turn, and the turn rotates by one from repeat to repeat, so a slow drift of the
    machine (heat, a neighbour) falls on every framework alike."""
    jobs = []
    for repeat in range(plan.repeats):
        shift = repeat % len(plan.frameworks)
        turn = plan.frameworks[shift:] + plan.frameworks[:shift]
        for model in plan.models:
            for variant in plan.variants:
                jobs += [
                    Job(model, variant, framework, repeat, plan.settings.seed + repeat, position)
                    for position, framework in enumerate(turn)
                ]
    return jobs


def devices_for(plan: Plan, framework: str) -> int:
    return plan.settings.dp_devices if FRAMEWORKS[framework].data_parallel else 1


def job_spec(plan: Plan, job: Job) -> JobSpec:
    budget = plan.budgets[job.model]
    return JobSpec(
        **asdict(replace(plan.settings, seed=job.seed)),
        model=job.model,
        framework=job.framework,
        devices=devices_for(plan, job.framework),
        variant=job.variant.name,
        regularization=job.variant,
        validation_fraction=plan.validation_fraction,
        dataset=plan.data.name,
        # The arrays this process verified (checksums, shapes), saved once: no worker reads IDX files.
        arrays=str(data_arrays_path(plan)),
        epochs=budget.epochs,
        batch_size=budget.batch_size,
        learning_rate=budget.learning_rate,
        schedule=budget.schedule,
        train_samples=budget.train_samples,
        test_samples=budget.test_samples,
        target_accuracy=plan.targets.get(job.model),
        adam_epsilon=ADAM_EPSILON,
        warmup_steps=WARMUP_STEPS,
        latency_repeats=LATENCY_REPEATS,
        eval_batch_size=EVAL_BATCH_SIZE,
        inference_batch_size=INFERENCE_BATCH_SIZE[plan.settings.device],
        sweep_batch_sizes=sweep_batch_sizes(plan, job),
    )


def sweep_batch_sizes(plan: Plan, job: Job) -> tuple[int, ...]:
    """The batch sizes the run times its step at after training: --batch-sizes' list, or the model's
    own; none without --batch-sizes, and none for a data-parallel run (one device's step is the question)."""
    chosen = plan.settings.batch_sizes
    if chosen is None or FRAMEWORKS[job.framework].data_parallel:
        return ()
    return tuple(chosen or MODELS[job.model].sweep_batch_sizes)


DATA_ARRAYS = "data.npz"


def data_arrays_path(plan: Plan) -> Path:
    return plan.out / "runs" / DATA_ARRAYS


def write_data_arrays(plan: Plan) -> None:
    """The verified uint8 arrays, for every worker to load in a fraction of a second."""
    path = data_arrays_path(plan)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    data = plan.data
    np.savez(partial, x_train=data.x_train, y_train=data.y_train, x_test=data.x_test, y_test=data.y_test)
    os.replace(partial, path)  # whole or absent: a worker never reads half a file


def file_stem(model: str, framework: str, variant: Regularization, repeat: int = 0) -> str:
    stem = f"{model}--{framework}"
    if variant != Regularization():
        stem += "--" + re.sub(r"[^a-z0-9]+", "-", variant.name.lower()).strip("-")
    return stem + (f"--repeat-{repeat}" if repeat else "")


def resumable(plan: Plan, previous: dict) -> dict:
    """The earlier document, if it was made with the same settings; else an error. The
    number of repeats may differ: --resume --repeats N adds repeats to a comparison."""
    same = ["preset", *(setting.name for setting in fields(RunSettings)), "variants"]
    now = settings_record(plan)
    changed = [key for key in same if previous["settings"].get(key) != now[key]]
    if previous["settings"]["data"]["source"] != plan.data.describe():
        changed.append("data")
    if changed:
        raise ValueError(
            f"--resume: {plan.out}/results.json was made with different {', '.join(changed)}; "
            f"resume with the same settings, or choose a new --out folder."
        )
    return previous


def job_label(plan: Plan, job: Job) -> str:
    named = f" ({job.variant.name})" if len(plan.variants) > 1 else ""
    repeat = f", repeat {job.repeat + 1}/{plan.repeats} (seed {job.seed})" if plan.repeats > 1 else ""
    return f"{job.model}{named} on {job.framework}{repeat}"
