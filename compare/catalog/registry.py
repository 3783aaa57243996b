"""The four models (where each twin lives, the parameter counts it must have) and
the presets (how long each model trains, on what data).

Importing this module imports no framework, so the orchestrator can plan runs
without fixing a Keras backend; `keras_class()`/`torch_class()` import on demand.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ModelSpec:
    name: str  # the name used on the command line and in results
    module: str  # the same file name in keras_models/ and torch_models/
    class_name: str  # the same class name in both
    # Parameter counts of the default configuration, as (trainable, non-trainable):
    # Keras counts BatchNorm moving statistics as non-trainable weights, torch
    # keeps them as buffers (counted here, without `num_batches_tracked`).
    keras_params: tuple[int, int]
    torch_params: tuple[int, int]
    has_dropout: bool  # takes a `dropout_rate` argument (what --dropout sets)
    why_counts_differ: str = ""

    def keras_class(self) -> type:
        return getattr(importlib.import_module(f"keras_models.{self.module}"), self.class_name)

    def torch_class(self) -> type:
        return getattr(importlib.import_module(f"torch_models.{self.module}"), self.class_name)


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("mlp", "mlp", "MLP", (235_146, 0), (235_146, 0), has_dropout=True),
        ModelSpec(
            "resnet_v2",
            "resnet_v2",
            "ResNetV2",
            (677_162, 1_792),
            (677_162, 1_792),
            has_dropout=False,
            why_counts_differ="Keras' count_params() includes the 1,792 BatchNorm moving "
            "statistics; torch keeps them as buffers, outside parameters().",
        ),
        ModelSpec(
            "transformer",
            "transformer",
            "TransformerClassifier",
            (71_946, 0),
            (71_946, 0),
            has_dropout=True,
        ),
        ModelSpec(
            "lstm",
            "lstm",
            "LSTMClassifier",
            (81_674, 0),
            (82_186, 0),
            has_dropout=False,
            why_counts_differ="torch's LSTM keeps two bias vectors (bias_ih, bias_hh) that are "
            "only ever summed; Keras keeps one: 4 × 128 = 512 more parameters in torch.",
        ),
    )
}


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
    name: str
    data: str  # "sample": 5,000/1,000 images; "full": the whole dataset (see compare.data.datasets)
    description: str
    budgets: dict[str, Budget]  # the models the preset trains, and how
    timeout_s: int  # per run, including imports and compilation
    # Each (model, framework) pair runs once per variant; the usual presets have
    # one variant, made from the --l2/--dropout/... flags.
    variants: tuple[Regularization, ...] | None = None
    # {dataset: {model: test accuracy}} every framework must reach on the preset's
    # own data and budget; each figure is set from measured runs (see the README).
    targets: dict[str, dict[str, float]] = field(default_factory=dict)

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


# What each model must reach on the whole of MNIST in the full and gpu presets.
FULL_MNIST_TARGETS = {"mlp": 0.980, "resnet_v2": 0.994, "transformer": 0.975, "lstm": 0.985}

PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            "smoke",
            "sample",
            "8 steps on 512 sample digits: checks that every run works end to end",
            {name: Budget(1, 64, 1e-3, 512, 256) for name in MODELS},
            timeout_s=300,
        ),
        Preset(
            "default",
            "sample",
            "a few epochs on the 5,000/1,000-image sample, every model past 90% on MNIST's, all in "
            "minutes on a laptop CPU; sample accuracies are not full-dataset accuracies",
            {
                "mlp": Budget(3, 64, 2e-3, None, None),
                "resnet_v2": Budget(1, 32, 5e-3, 2_560, None),
                "transformer": Budget(13, 64, 5e-3, None, None),
                "lstm": Budget(3, 64, 5e-3, None, None),
            },
            timeout_s=600,
            # MNIST: the goal this preset is sized for. Fashion-MNIST: 2 points under the lowest
            # test accuracy of five frameworks measured on a 2-core CPU (see the README).
            targets={
                "mnist": dict.fromkeys(MODELS, 0.90),
                "fashion-mnist": {"mlp": 0.79, "resnet_v2": 0.72, "transformer": 0.76, "lstm": 0.77},
            },
        ),
        Preset(
            "full",
            "full",
            "the full dataset, trained to the accuracy targets (a GPU is recommended)",
            {
                "mlp": Budget(20, 128, 1e-3, None, None),
                "resnet_v2": Budget(15, 128, 1e-3, None, None),
                "transformer": Budget(30, 128, 1e-3, None, None),
                "lstm": Budget(15, 128, 1e-3, None, None),
            },
            timeout_s=6 * 3600,
            # Fashion-MNIST has none yet: the full preset on it has not been run to measure them.
            targets={"mnist": FULL_MNIST_TARGETS},
        ),
        Preset(
            "gpu",
            "full",
            "the full dataset to the full preset's targets in batches of 256, sized so that --until-target "
            "on keras-jax, keras-torch, torch and torch-compile fits one GPU call (see benchmarks/gpu_plan.py)",
            {
                "mlp": Budget(15, 256, 2e-3, None, None),
                "resnet_v2": Budget(10, 256, 3e-3, None, None),
                "transformer": Budget(15, 256, 3e-3, None, None),
                "lstm": Budget(12, 256, 3e-3, None, None),
            },
            timeout_s=600,
            targets={"mnist": FULL_MNIST_TARGETS},
        ),
        Preset(
            "regularization",
            "sample",
            "the regularization lesson: the MLP with none / L2 / dropout / early stopping / "
            "augmentation, 30 epochs on the shipped sample, train versus test accuracy per epoch",
            # A constant rate: the lesson is the overfitting itself, not how to tame it by decay.
            {"mlp": Budget(30, 128, 1e-3, None, None, schedule="constant")},
            timeout_s=900,
            variants=REGULARIZATION_STUDY,
        ),
    )
}
