"""The four models (where each twin lives, the parameter counts it must have, how long
each trains in each preset and what it must reach) and the presets (on what data).

Importing this module imports no framework, so the orchestrator can plan runs
without fixing a Keras backend; `twin(family)` imports a twin on demand.
"""

from __future__ import annotations

import importlib
import json
import math
import os
from dataclasses import dataclass, field

from compare.catalog.extensions import import_named_modules
from compare.catalog.frameworks import KERAS, TORCH, Family


@dataclass(frozen=True)
class Budget:
    """How one model trains in one preset; identical for every framework."""

    epochs: int
    batch_size: int
    learning_rate: float
    train_samples: int | None  # None: the whole training set
    test_samples: int | None  # None: the whole test set
    schedule: str = "warmup-cosine"  # one of SCHEDULES: how the learning rate moves per step


# How the learning rate moves, step by step, the same in every framework: Keras'
# built-in CosineDecay (a LearningRateSchedule, read at every optimizer step) and a
# torch LambdaLR stepped after every batch. Warm-up then cosine decay lets a short
# budget converge: large steps early, and weights (and BatchNorm's running
# statistics) that settle at the end.
SCHEDULES = ("warmup-cosine", "constant")
WARMUP_FRACTION = 0.1  # of all training steps, rising linearly from 0 to the peak rate


def warmup_steps(total_steps: int) -> int:
    return max(1, round(WARMUP_FRACTION * total_steps))


def learning_rate_factor(step: int, total_steps: int, schedule: str) -> float:
    """The rate at 0-based optimizer step `step`, as a fraction of the peak rate.

    warmup-cosine: linear from 0 over the warm-up steps, then half a cosine down to
    0 at `total_steps`: Keras' CosineDecay(0.0, total − warm-up, warmup_target=peak,
    warmup_steps=warm-up), written out for torch's LambdaLR.
    """
    if schedule == "constant":
        return 1.0
    warmup = warmup_steps(total_steps)
    if step < warmup:
        return step / warmup
    decayed = min(step - warmup, total_steps - warmup) / max(total_steps - warmup, 1)
    return 0.5 * (1.0 + math.cos(math.pi * decayed))


@dataclass(frozen=True)
class ModelSpec:
    """One model: where its twins live, what they must count, how it trains in each preset,
    and the facts the harness, the lessons and the tests ask of it. A new model is its twin
    files and one entry in MODELS (`register` adds one from outside the project)."""

    name: str  # the name used on the command line and in results
    module: str  # the same file name in every family's package (keras_models/, torch_models/)
    class_name: str  # the same class name in every family
    # Parameter counts of the default configuration per family, as (trainable, non-trainable):
    # Keras counts BatchNorm moving statistics as non-trainable weights, torch keeps them as
    # buffers (counted here, without `num_batches_tracked`).
    params: dict[str, tuple[int, int]] | None  # None: a user's twins, counted but not held to a number
    has_dropout: bool  # takes a `dropout_rate` argument (what --dropout sets)
    has_batch_norm: bool  # its statistics depend on how a batch is split over devices
    # Adam steps (lr 1e-3) on one fixed batch after which the loss on it must have halved:
    # the model suites' training check (tests/test_torch_models.py, tests/keras_backend).
    fit_steps: int
    # Per preset name: how it trains there (the smoke preset has one budget for every model).
    budgets: dict[str, Budget] = field(default_factory=dict)
    # Per preset name: {dataset: the test accuracy every framework must reach}, each set from
    # measured runs (see the README).
    targets: dict[str, dict[str, float]] = field(default_factory=dict)
    why_counts_differ: str = ""
    packages: dict[str, str] = field(default_factory=dict)  # per family, where its twins live if not in the family's
    inputs: str = "image"  # how MNIST reaches the model, one of compare.catalog.twins.INPUT_KINDS
    args: dict[str, object] = field(default_factory=dict)  # constructor arguments given to both twins
    source: str | None = None  # a user's twins: the `path/to/file.py:name` that declares them
    declared: object = None  # or the Twins declaration itself, in the process that made it
    # The batch sizes `--batch-sizes` sweeps by default (compare.run.anatomy): spread over an order
    # of magnitude or more, and small enough that the sweep of the four models on five frameworks,
    # three repeats, adds about ten minutes on a 2-core CPU.
    sweep_batch_sizes: tuple[int, ...] = (16, 64, 256, 1024)

    def twin(self, family: Family) -> type:
        """The model's class in `family`, imported on demand."""
        if self.declared is not None:
            return getattr(self.declared, family.name)
        if self.source:
            from compare.catalog.twins import load_twins  # imports the user's file, and its frameworks

            return getattr(load_twins(self.source), family.name)
        package = self.packages.get(family.name, family.models)
        return getattr(importlib.import_module(f"{package}.{self.module}"), self.class_name)

    def make(self, family: Family, **arguments) -> object:
        """A new twin in `family`, built with the declared arguments and then `arguments`."""
        return self.twin(family)(**{**self.args, **arguments})

    def input_shape(self, family: Family) -> tuple[int | None, ...]:
        """The batch shape the twin in `family` takes, batch size None."""
        if self.inputs == "rows":
            return (None, 28, 28)
        return (None, 28, 28, 1) if family.channels_last else (None, 1, 28, 28)

    def model_inputs(self, images, family: Family):
        """(B, 28, 28) images, NumPy or torch, as the twin in `family` takes them."""
        if self.inputs == "rows":
            return images  # 28 rows of 28 pixels: a sequence in both families
        return images[..., None] if family.channels_last else images[:, None]

    def keras_class(self) -> type:
        return self.twin(KERAS)

    def torch_class(self) -> type:
        return self.twin(TORCH)


# The sample's targets (the default preset): MNIST's is the goal the preset is sized for;
# Fashion-MNIST's are 2 points under the lowest test accuracy of five frameworks as measured
# (see the README). Full MNIST's hold for the full and gpu presets; Fashion-MNIST
# has none there yet (the full preset on it has not been run to measure them).
def sample_and_full_targets(fashion_sample: float, mnist_full: float) -> dict[str, dict[str, float]]:
    full = {"mnist": mnist_full}
    return {"default": {"mnist": 0.90, "fashion-mnist": fashion_sample}, "full": full, "gpu": full}


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "mlp",
            "mlp",
            "MLP",
            {"keras": (235_146, 0), "torch": (235_146, 0)},
            has_dropout=True,
            has_batch_norm=False,
            fit_steps=30,
            budgets={
                "default": Budget(3, 64, 2e-3, None, None),
                "full": Budget(20, 128, 1e-3, None, None),
                "gpu": Budget(15, 256, 2e-3, None, None),
                # A constant rate: the lesson is the overfitting itself, not how to tame it by decay.
                "regularization": Budget(30, 128, 1e-3, None, None, schedule="constant"),
            },
            targets=sample_and_full_targets(fashion_sample=0.79, mnist_full=0.980),
        ),
        ModelSpec(
            "resnet_v2",
            "resnet_v2",
            "ResNetV2",
            {"keras": (677_162, 1_792), "torch": (677_162, 1_792)},
            has_dropout=False,
            has_batch_norm=True,
            fit_steps=10,  # learns the batch fastest, and is the slowest per step
            budgets={
                "default": Budget(1, 32, 5e-3, 2_560, None),
                "full": Budget(15, 128, 1e-3, None, None),
                "gpu": Budget(10, 256, 3e-3, None, None),
            },
            targets=sample_and_full_targets(fashion_sample=0.72, mnist_full=0.994),
            sweep_batch_sizes=(4, 8, 16, 32),  # up to half a second a step at 32 on a 2-core CPU
            why_counts_differ="Keras' count_params() includes the 1,792 BatchNorm moving "
            "statistics; torch keeps them as buffers, outside parameters().",
        ),
        ModelSpec(
            "transformer",
            "transformer",
            "TransformerClassifier",
            {"keras": (71_946, 0), "torch": (71_946, 0)},
            has_dropout=True,
            has_batch_norm=False,
            fit_steps=30,
            budgets={
                "default": Budget(13, 64, 5e-3, None, None),
                "full": Budget(30, 128, 1e-3, None, None),
                "gpu": Budget(15, 256, 3e-3, None, None),
            },
            targets=sample_and_full_targets(fashion_sample=0.76, mnist_full=0.975),
            sweep_batch_sizes=(16, 64, 256),
        ),
        ModelSpec(
            "lstm",
            "lstm",
            "LSTMClassifier",
            {"keras": (81_674, 0), "torch": (82_186, 0)},
            has_dropout=False,
            has_batch_norm=False,
            fit_steps=30,
            budgets={
                "default": Budget(3, 64, 5e-3, None, None),
                "full": Budget(15, 128, 1e-3, None, None),
                "gpu": Budget(12, 256, 3e-3, None, None),
            },
            targets=sample_and_full_targets(fashion_sample=0.77, mnist_full=0.985),
            why_counts_differ="torch's LSTM keeps two bias vectors (bias_ih, bias_hh) that are "
            "only ever summed; Keras keeps one: 4 × 128 = 512 more parameters in torch.",
        ),
    )
}


# A user's twins train as the MLP does in the presets below; --epochs and the other
# budget flags change them. The smoke preset's rule covers every model already.
TWINS_BUDGETS = {
    "default": Budget(3, 64, 2e-3, None, None),
    "full": Budget(15, 128, 1e-3, None, None),  # the keras-io MNIST convnet's 15 epochs of 128
    "gpu": Budget(10, 256, 3e-3, None, None),
}


def register(spec: ModelSpec) -> None:
    """Add a model to the catalog, as an entry of MODELS; a name taken already is an error."""
    if spec.name in MODELS:
        raise ValueError(f"a model named {spec.name!r} is in the catalog already; choose another name")
    MODELS[spec.name] = spec


AS_BUILT = "as built"  # the variant of a run with no regularization flags
# One Adam epsilon for every framework: Keras' default is 1e-7, torch's 1e-8.
ADAM_EPSILON = 1e-8


@dataclass(frozen=True)
class Regularization:
    """How a run is regularized, beyond the model's own dropout.

    Each framework spells these its own way (see compare.run.keras_runner and
    compare.run.torch_runner); the values mean the same thing in both.
    """

    name: str = AS_BUILT  # the label in results and reports
    l2: float = 0.0  # λ: λ·Σw² over every kernel is added to the loss
    weight_decay: float = 0.0  # the optimizer's own `weight_decay` argument, as each defines it
    dropout_rate: float | None = None  # None: the model's default rate
    early_stopping_patience: int | None = None  # epochs without a better validation loss
    augment: bool = False  # random shifts and rotations of the training images

    def describe(self) -> str:
        parts = [
            f"L2 λ={self.l2:g}" if self.l2 else "",
            f"weight_decay={self.weight_decay:g}" if self.weight_decay else "",
            f"dropout {self.dropout_rate:g}" if self.dropout_rate is not None else "",
            f"early stopping (patience {self.early_stopping_patience})" if self.early_stopping_patience else "",
            f"augmentation (±{AUGMENT_MAX_DEGREES:g}°, ±{AUGMENT_MAX_SHIFT:.0%} shifts)" if self.augment else "",
        ]
        return ", ".join(part for part in parts if part) or "none beyond the model's own dropout"


# Early stopping watches a validation split carved from the training images; when
# any run of a comparison uses it, every run trains on the same remaining images.
VALIDATION_FRACTION = 0.1
# Augmentation: rotations uniform in ±10°, shifts uniform in ±10% of the image side.
AUGMENT_MAX_DEGREES = 10.0
AUGMENT_MAX_SHIFT = 0.1


@dataclass(frozen=True)
class Preset:
    """How a comparison trains: on what data, for how long, with which variants. Each model's
    budget and targets in a preset are in the model's entry (ModelSpec.budgets, .targets)."""

    name: str
    data: str  # "sample": 5,000/1,000 images; "full": the whole dataset (see compare.data.datasets)
    description: str
    timeout_s: int  # per run, including imports and compilation
    # Each (model, framework) pair runs once per variant; the usual presets have
    # one variant, made from the --l2/--dropout/... flags.
    variants: tuple[Regularization, ...] | None = None
    every_model: Budget | None = None  # a rule: this budget for every model in the catalog

    @property
    def budgets(self) -> dict[str, Budget]:
        """The models the preset trains, and how: those whose entry names it (or all, by the rule)."""
        return {
            name: spec.budgets.get(self.name, self.every_model)
            for name, spec in MODELS.items()
            if self.name in spec.budgets or self.every_model is not None
        }

    @property
    def targets(self) -> dict[str, dict[str, float]]:
        """{dataset: {model: test accuracy}} every framework must reach on the preset's own data and budget."""
        found: dict[str, dict[str, float]] = {}
        for name, spec in MODELS.items():
            for dataset, accuracy in spec.targets.get(self.name, {}).items():
                found.setdefault(dataset, {})[name] = accuracy
        return found

    def targets_for(self, dataset: str, data: str) -> dict[str, float]:
        """The targets that apply to a comparison on `dataset` with `data` ("sample"/"full")."""
        return self.targets.get(dataset, {}) if data == self.data else {}


# The workshop's regularization lesson: the MLP on 4,480 training digits overfits
# within a few epochs; each variant adds one remedy on the same budget.
REGULARIZATION_STUDY = (
    Regularization("none", dropout_rate=0.0),
    Regularization("L2", l2=1e-3, dropout_rate=0.0),
    Regularization("dropout", dropout_rate=0.5),
    Regularization("early stopping", dropout_rate=0.0, early_stopping_patience=3),
    Regularization("augmentation", dropout_rate=0.0, augment=True),
)


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            "smoke",
            "sample",
            "8 steps on 512 sample digits: checks that every run works end to end",
            timeout_s=300,
            every_model=Budget(1, 64, 1e-3, 512, 256),
        ),
        Preset(
            "default",
            "sample",
            "a few epochs on the 5,000/1,000-image sample, every model past 90% on MNIST's, all in "
            "minutes on a laptop CPU; sample accuracies are not full-dataset accuracies",
            timeout_s=600,
        ),
        Preset(
            "full",
            "full",
            "the full dataset, trained to the accuracy targets (a GPU is recommended)",
            timeout_s=6 * 3600,
        ),
        Preset(
            "gpu",
            "full",
            "the full dataset to the full preset's targets in batches of 256, sized so that --until-target "
            "on keras-jax, keras-torch, torch and torch-compile fits one GPU call (see benchmarks/gpu_plan.py)",
            timeout_s=600,
        ),
        Preset(
            "regularization",
            "sample",
            "the regularization lesson: the MLP with none / L2 / dropout / early stopping / "
            "augmentation, 30 epochs on the shipped sample, train versus test accuracy per epoch",
            timeout_s=900,
            variants=REGULARIZATION_STUDY,
        ),
    )
}


# Models from outside the project: modules that call `register`, imported after the built-ins
# (compare.catalog.extensions).
EXTRA_MODELS = "KERAS_TORCH_COMPARE_MODELS"
import_named_modules(EXTRA_MODELS)


# A user's twins (compare.catalog.twins), as `python -m compare --twins` described them in a
# child: a JSON list of `twins_spec` arguments. The parent sets it, so its children find them.
TWINS_ENV = "KERAS_TORCH_COMPARE_TWINS"


def twins_spec(source: str, name: str, inputs: str, args: dict, has_dropout: bool, has_batch_norm: bool) -> ModelSpec:
    """The catalog entry of a user's twins, declared in `source` (path/to/file.py:name)."""
    return ModelSpec(
        name,
        module="",
        class_name="",
        params=None,
        has_dropout=has_dropout,
        has_batch_norm=has_batch_norm,
        fit_steps=30,
        budgets=TWINS_BUDGETS,
        inputs=inputs,
        args=args,
        source=source,
    )


def add_twins(descriptions: list[dict]) -> list[str]:
    """Register described twins here and in every child this process starts; their names."""
    for description in descriptions:
        register(twins_spec(**description))
    os.environ[TWINS_ENV] = json.dumps([*json.loads(os.environ.get(TWINS_ENV, "[]")), *descriptions])
    return [description["name"] for description in descriptions]


for described in json.loads(os.environ.get(TWINS_ENV, "[]")):
    register(twins_spec(**described))
