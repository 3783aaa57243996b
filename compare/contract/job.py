"""The job: everything one worker needs to train one (model, framework) pair, typed.

The parent (compare.harness.orchestrator) builds a `JobSpec`, writes it as JSON beside the
run, and the child (compare.run.worker) reads it back; the runners receive the same
object. It sits below the worker and both runners and imports no framework.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from compare.catalog.registry import Regularization


@dataclass(frozen=True, kw_only=True)
class RunSettings:
    """The settings a comparison's runs share and their results depend on, listed once: the
    results' settings record, --resume's check, the job and the schema derive from these fields,
    and the command line fills them from its flags of the same names."""

    device: str  # "cpu" or "gpu"
    jit_compile: str  # Keras' compile(jit_compile=...): "auto", "on" or "off"
    precision: str  # one of compare.catalog.frameworks.PRECISIONS
    compile_mode: str = "default"  # torch.compile's mode for torch-compile
    until_target: bool = False  # stop after the first epoch that reaches the target
    seed: int = 0  # a comparison's repeat i runs from seed + i; in a job, the run's own seed
    deterministic: bool = False
    dp_devices: int = 2  # devices the data-parallel frameworks spread over
    # --batch-sizes: after training, time the step at each of these batch sizes (compare.run.anatomy);
    # [] for each model's own list (ModelSpec.sweep_batch_sizes); None: no sweep.
    batch_sizes: list[int] | None = None


@dataclass(frozen=True, kw_only=True)
class JobSpec(RunSettings):
    model: str  # a key of compare.catalog.registry.MODELS
    framework: str  # a key of compare.catalog.frameworks.FRAMEWORKS
    devices: int  # more than one for the data-parallel frameworks
    variant: str  # the regularization variant's name
    regularization: Regularization
    validation_fraction: float  # of the training images, held out for early stopping
    dataset: str  # a key of compare.data.datasets.SOURCES
    arrays: str  # the .npz of uint8 arrays the parent verified
    epochs: int
    batch_size: int
    learning_rate: float  # the peak rate of the schedule
    schedule: str  # one of compare.catalog.registry.SCHEDULES
    train_samples: int | None  # None: every training image
    test_samples: int | None  # None: every test image
    target_accuracy: float | None  # the model's target in this comparison, if any
    adam_epsilon: float
    warmup_steps: int  # steps after the first left out of the steady state
    latency_repeats: int
    eval_batch_size: int
    inference_batch_size: int
    initial_weights: str | None = None  # the shared starting weights (.npz); None: the framework's own
    final_weights: str | None = None  # where the run writes the weights it ends with
    sweep_batch_sizes: tuple[int, ...] = ()  # this model's sweep, after training; () for none

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def read(cls, path: Path) -> JobSpec:
        fields = json.loads(path.read_text())
        return cls(**{**fields, "regularization": Regularization(**fields["regularization"])})
