"""Keras spellings that the runner and the lessons share: L2 on every kernel, and
the learning-rate schedule. Imported only where KERAS_BACKEND is already set.
"""

from __future__ import annotations

import keras

from compare.catalog.registry import warmup_steps

KERNELS = ("kernel", "recurrent_kernel")  # what kernel_regularizer/recurrent_regularizer cover


def add_l2(model: keras.Model, l2: float) -> None:
    """Give every kernel of a built model the regularizer L2(l2), exactly what
    `kernel_regularizer=keras.regularizers.L2(l2)` (and `recurrent_regularizer`
    for the LSTM) would attach when the layers were built. Biases, normalization
    scales and the position embedding are not penalized, as in torch_runner."""
    for variable in model.trainable_weights:
        if variable.name in KERNELS:
            variable.regularizer = keras.regularizers.L2(l2)  # adds l2·Σw² to model.losses


def learning_rate(
    schedule: str, peak: float, total_steps: int
) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """The learning rate `schedule` (compare.catalog.registry.SCHEDULES) rising to `peak`: Keras'
    own CosineDecay with a linear warm-up from 0, evaluated at every optimizer step
    (compare.catalog.registry.learning_rate_factor), or the constant `peak`."""
    if schedule == "constant":
        return peak
    warmup = warmup_steps(total_steps)
    return keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=max(total_steps - warmup, 1), warmup_target=peak, warmup_steps=warmup
    )
