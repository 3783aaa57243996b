"""One learning-rate schedule in both frameworks: Keras' CosineDecay read per optimizer
step, torch's LambdaLR stepped per batch."""

import keras
import numpy as np
import pytest
import torch

from compare.catalog.registry import learning_rate_factor, warmup_steps
from compare.run.keras_recipes import learning_rate


# A warm-up of one step and of four. Every step is a call of its own (the cond in CosineDecay does
# not vectorize), which on JAX traces each time: 80 ms a step.
@pytest.mark.parametrize("total_steps", [8, 40])
def test_keras_and_torch_take_the_same_rate_at_every_step(total_steps):
    peak = 5e-3
    keras_rates = keras.ops.convert_to_numpy(
        keras.ops.stack([learning_rate("warmup-cosine", peak, total_steps)(step) for step in range(total_steps)])
    )
    optimizer = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=peak)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: learning_rate_factor(step, total_steps, "warmup-cosine")
    )
    torch_rates = []
    for _ in range(total_steps):  # the rate each optimizer.step() uses, then the per-batch scheduler step
        torch_rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    # float32 in Keras against float64 in torch: agreement to float32 rounding of the rate.
    np.testing.assert_allclose(keras_rates, torch_rates, rtol=1e-5, atol=1e-10)
    warmup = warmup_steps(total_steps)
    assert torch_rates[0] == 0 and torch_rates[warmup] == pytest.approx(peak)  # rises from 0 to the peak
    decay = torch_rates[warmup:]
    assert all(a > b for a, b in zip(decay, decay[1:])) and decay[-1] < 0.1 * peak  # then falls towards 0


def test_a_constant_schedule_is_the_plain_rate():
    assert learning_rate("constant", 1e-3, 100) == 1e-3
    assert all(learning_rate_factor(step, 100, "constant") == 1.0 for step in range(100))
