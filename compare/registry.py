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
    why_counts_differ: str = ""

    def keras_class(self) -> type:
        return getattr(importlib.import_module(f"keras_models.{self.module}"), self.class_name)

    def torch_class(self) -> type:
        return getattr(importlib.import_module(f"torch_models.{self.module}"), self.class_name)


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("mlp", "mlp", "MLP", (235_146, 0), (235_146, 0), 0.980),
        ModelSpec(
            "resnet_v2", "resnet_v2", "ResNetV2", (677_162, 1_792), (677_162, 1_792), 0.994,
            why_counts_differ="Keras' count_params() includes the 1,792 BatchNorm moving "
            "statistics; torch keeps them as buffers, outside parameters().",
        ),
        ModelSpec(
            "transformer", "transformer", "TransformerClassifier", (71_946, 0), (71_946, 0), 0.975
        ),
        ModelSpec(
            "lstm", "lstm", "LSTMClassifier", (81_674, 0), (82_186, 0), 0.985,
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
class Preset:
    name: str
    data: str  # "sample": the shipped sample; "mnist": full MNIST (see compare.mnist)
    description: str
    budgets: dict[str, Budget]
    timeout_s: int  # per run, including imports and compilation


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
    )
}
