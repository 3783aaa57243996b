"""The four models (where each twin lives, the parameter counts it must have) and
the presets (how long each model trains, on what data).

Importing this module imports no framework, so the orchestrator can plan runs
without fixing a Keras backend; `keras_class()`/`torch_class()` import on demand.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


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
    target_accuracy: float  # test accuracy the `full` preset must reach on full MNIST
    has_dropout: bool  # takes a `dropout_rate` argument (what --dropout sets)
    why_counts_differ: str = ""

    def keras_class(self) -> type:
        return getattr(importlib.import_module(f"keras_models.{self.module}"), self.class_name)

    def torch_class(self) -> type:
        return getattr(importlib.import_module(f"torch_models.{self.module}"), self.class_name)


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("mlp", "mlp", "MLP", (235_146, 0), (235_146, 0), 0.980, has_dropout=True),
        ModelSpec(
            "resnet_v2", "resnet_v2", "ResNetV2", (677_162, 1_792), (677_162, 1_792), 0.994, has_dropout=False,
            why_counts_differ="Keras' count_params() includes the 1,792 BatchNorm moving "
            "statistics; torch keeps them as buffers, outside parameters().",
        ),
        ModelSpec(
            "transformer", "transformer", "TransformerClassifier", (71_946, 0), (71_946, 0), 0.975,
            has_dropout=True,
        ),
        ModelSpec(
            "lstm", "lstm", "LSTMClassifier", (81_674, 0), (82_186, 0), 0.985, has_dropout=False,
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


@dataclass(frozen=True)
class Regularization:
    """How a run is regularized, beyond the model's own dropout.

    Each framework spells these its own way (see compare.keras_runner and
    compare.torch_runner); the values mean the same thing in both.
    """

    name: str = "as built"  # the label in results and reports
    l2: float = 0.0  # λ: λ·Σw² over every kernel is added to the loss
    weight_decay: float = 0.0  # the optimizer's own `weight_decay` argument, as each defines it
    dropout_rate: float | None = None  # None: the model's default rate
    early_stopping_patience: int | None = None  # epochs without a better validation loss
    augment: bool = False  # random shifts and rotations of the training images

    def describe(self) -> str:
        parts = [f"L2 λ={self.l2:g}" if self.l2 else "",
                 f"weight_decay={self.weight_decay:g}" if self.weight_decay else "",
                 f"dropout {self.dropout_rate:g}" if self.dropout_rate is not None else "",
                 f"early stopping (patience {self.early_stopping_patience})" if self.early_stopping_patience else "",
                 f"augmentation (±{AUGMENT_MAX_DEGREES:g}°, ±{AUGMENT_MAX_SHIFT:.0%} shifts)" if self.augment else ""]
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
    data: str  # "sample": the shipped sample; "mnist": full MNIST (see compare.mnist)
    description: str
    budgets: dict[str, Budget]  # the models the preset trains, and how
    timeout_s: int  # per run, including imports and compilation
    # Each (model, framework) pair runs once per variant; the usual presets have
    # one variant, made from the --l2/--dropout/... flags.
    variants: tuple[Regularization, ...] | None = None


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
            {name: Budget(1, 64, 1e-3, 512, 256) for name in MODELS},
            timeout_s=300,
        ),
        Preset(
            "default",
            "sample",
            "one epoch on the shipped sample, sized to finish everything in minutes on a "
            "laptop CPU; accuracies are not MNIST accuracies",
            {
                "mlp": Budget(1, 128, 1e-3, None, None),
                "resnet_v2": Budget(1, 32, 1e-3, 960, 500),
                "transformer": Budget(1, 128, 1e-3, None, None),
                "lstm": Budget(1, 128, 1e-3, 2_560, None),
            },
            timeout_s=600,
        ),
        Preset(
            "full",
            "mnist",
            "full MNIST, trained to the accuracy targets (a GPU is recommended)",
            {
                "mlp": Budget(20, 128, 1e-3, None, None),
                "resnet_v2": Budget(15, 128, 1e-3, None, None),
                "transformer": Budget(30, 128, 1e-3, None, None),
                "lstm": Budget(15, 128, 1e-3, None, None),
            },
            timeout_s=6 * 3600,
        ),
        Preset(
            "regularization",
            "sample",
            "the regularization lesson: the MLP with none / L2 / dropout / early stopping / "
            "augmentation, 30 epochs on the shipped sample, train versus test accuracy per epoch",
            {"mlp": Budget(30, 128, 1e-3, None, None)},
            timeout_s=900,
            variants=REGULARIZATION_STUDY,
        ),
    )
}
