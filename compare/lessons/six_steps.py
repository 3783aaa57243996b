"""The notebook "the same six steps, four ways" checks each hand-written training step
against the framework's own: one batch of the shipped sample, the parity twins' weights
(dropout off, so nothing is random), one SGD step.

Imports Keras (on the backend KERAS_BACKEND names) and torch.
"""

from __future__ import annotations

import keras
import numpy as np
import torch

import keras_models
import torch_models
from compare.data.datasets import load_sample, unit_interval
from compare.lessons.parity import SGD_LEARNING_RATE, one_step
from compare.porting.port_keras import keras_to_state, state_to_keras
from compare.porting.port_torch import torch_to_state
from compare.porting.weights import StateDict, max_abs_diff

SEED = 0  # the torch twin's initial weights, as the parity checks make them
BATCH = 64


def one_batch() -> tuple[np.ndarray, np.ndarray]:
    """The first 64 training digits (B, 28, 28, 1) in [0, 1], and their labels."""
    digits = load_sample()
    return unit_interval(digits.x_train[:BATCH])[..., None], digits.y_train[:BATCH].astype(np.int64)


def starting_weights() -> StateDict:
    """The torch MLP twin's initial weights from SEED, dropout off."""
    torch.manual_seed(SEED)
    return torch_to_state(torch_models.MLP(dropout_rate=0.0))


def fit_step(model_class: type[keras.Model]) -> StateDict:
    """The weights after one `fit` step of `model_class` (an MLP), from the starting weights."""
    images, labels = one_batch()
    model = model_class(dropout_rate=0.0)
    model.build((None, 28, 28, 1))
    state_to_keras(starting_weights(), model)
    model.compile(
        optimizer=keras.optimizers.SGD(SGD_LEARNING_RATE),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(images, labels, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    return keras_to_state(model)


def torch_step() -> StateDict:
    """The torch twin's weights after one SGD step on the same batch (compare.lessons.parity)."""
    images, labels = one_batch()
    return one_step("mlp", images[..., 0], labels, SEED, "sgd")[3]


def largest_difference(a: StateDict, b: StateDict) -> float:
    return max(max_abs_diff(a[name], b[name]) for name in a)


def compare_with_fit(custom_class: type[keras.Model]) -> None:
    """Print how far one step of `custom_class` lands from fit's own step and from plain torch's."""
    custom = fit_step(custom_class)
    print(
        f"custom train_step vs fit's own step, same weights and batch: max |Δw| = "
        f"{largest_difference(custom, fit_step(keras_models.MLP)):.1e}"
    )
    print(
        f"custom train_step vs the plain torch loop's step:         max |Δw| = "
        f"{largest_difference(custom, torch_step()):.1e}"
    )
