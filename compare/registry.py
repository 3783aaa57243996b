"""The four models: where each twin lives and the parameter counts it must have.

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
    why_counts_differ: str = ""

    def keras_class(self) -> type:
        return getattr(importlib.import_module(f"keras_models.{self.module}"), self.class_name)

    def torch_class(self) -> type:
        return getattr(importlib.import_module(f"torch_models.{self.module}"), self.class_name)


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("mlp", "mlp", "MLP", (235_146, 0), (235_146, 0)),
        ModelSpec(
            "resnet_v2", "resnet_v2", "ResNetV2", (677_162, 1_792), (677_162, 1_792),
            why_counts_differ="Keras' count_params() includes the 1,792 BatchNorm moving "
            "statistics; torch keeps them as buffers, outside parameters().",
        ),
        ModelSpec("transformer", "transformer", "TransformerClassifier", (71_946, 0), (71_946, 0)),
        ModelSpec(
            "lstm", "lstm", "LSTMClassifier", (81_674, 0), (82_186, 0),
            why_counts_differ="torch's LSTM keeps two bias vectors (bias_ih, bias_hh) that are "
            "only ever summed; Keras keeps one: 4 × 128 = 512 more parameters in torch.",
        ),
    )
}
