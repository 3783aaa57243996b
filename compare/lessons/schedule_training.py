"""The learning-rate schedule lesson's training: Keras' schedule read at steps across a run, and the
torch MLP trained with a LambdaLR stepped per batch or, as many tutorials do, once per epoch
(compare.lessons.differences.scheduler_stepped_per_epoch tells the difference).

Runs inside a process whose KERAS_BACKEND is set; imports Keras and torch both.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from compare.catalog.registry import ADAM_EPSILON, MODELS, learning_rate_factor
from compare.data.datasets import unit_interval
from compare.lessons.parity import nchw, to_numpy
from compare.run.keras_recipes import learning_rate

# The default preset's MLP budget on the shipped sample: 3 epochs of 64, peak rate 2e-3.
SCHEDULE_EPOCHS = 3
SCHEDULE_BATCH = 64
SCHEDULE_PEAK_RATE = 2e-3


def keras_schedule_rates(total_steps: int) -> dict[int, float]:
    """Keras' warm-up + cosine schedule (compare.run.keras_recipes) at steps across the run."""
    schedule = learning_rate("warmup-cosine", SCHEDULE_PEAK_RATE, total_steps)
    # One scalar step per call (its cond does not vectorize); on JAX each call traces, so every 13th.
    return {step: float(to_numpy(schedule(step))) for step in [*range(0, total_steps, 13), total_steps - 1]}


def torch_schedule_rates(steps_per_epoch: int, per_epoch: bool) -> list[float]:
    """The rate at every step of a torch LambdaLR written in steps, stepped after every batch or,
    as many tutorials do, once per epoch. A scheduler moves the rate whatever the model is, so an
    optimizer of one tensor shows it."""
    optimizer = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=SCHEDULE_PEAK_RATE, eps=ADAM_EPSILON)
    total = SCHEDULE_EPOCHS * steps_per_epoch
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: learning_rate_factor(step, total, "warmup-cosine")
    )
    rates = []
    for _ in range(SCHEDULE_EPOCHS):
        for _ in range(steps_per_epoch):
            rates.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            if not per_epoch:
                scheduler.step()
        if per_epoch:
            scheduler.step()
    return rates


def torch_mlp_accuracy(data, steps_per_epoch: int, rates: list[float]) -> float:
    """The torch MLP trained for the default budget at `rates`, one per step; its test accuracy."""
    torch.manual_seed(0)
    model = MODELS["mlp"].torch_class()()
    optimizer = torch.optim.Adam(model.parameters(), lr=SCHEDULE_PEAK_RATE, eps=ADAM_EPSILON)
    images = nchw(unit_interval(data.x_train))
    labels = torch.from_numpy(data.y_train.astype(np.int64))
    steps = iter(rates)
    for epoch in range(SCHEDULE_EPOCHS):
        order = torch.from_numpy(np.random.default_rng([0, epoch]).permutation(len(labels)))
        for rows in order.split(SCHEDULE_BATCH)[:steps_per_epoch]:
            optimizer.param_groups[0]["lr"] = next(steps)  # the rate the scheduler gave at this step
            optimizer.zero_grad()
            F.cross_entropy(model(images[rows]), labels[rows]).backward()
            optimizer.step()
    with torch.no_grad():
        predicted = model.eval()(nchw(unit_interval(data.x_test))).argmax(1).numpy()
    return float((predicted == data.y_test).mean())


def rates_against_keras(per_step: list[float], per_epoch: list[float]) -> dict:
    """Keras' schedule against torch's LambdaLR stepped per batch and once per epoch
    (`torch_schedule_rates`): the rates."""
    keras_rates = keras_schedule_rates(len(per_step))
    at = list(keras_rates)
    keras_at = np.array(list(keras_rates.values()))
    return {
        "epochs": SCHEDULE_EPOCHS,
        "steps": len(per_step),
        "steps_compared": len(at),
        "max_abs_rate_diff_keras_vs_torch_per_step": float(np.abs(keras_at - np.array(per_step)[at]).max()),
        "max_abs_rate_diff_keras_vs_torch_per_epoch": float(np.abs(keras_at - np.array(per_epoch)[at]).max()),
        "steps_at_rate_0_per_epoch": int((np.array(per_epoch) == 0).sum()),
    }


def per_step_against_per_epoch(data) -> dict:
    """The rates (`rates_against_keras`) and the MLP's test accuracy each torch stepping reaches."""
    steps_per_epoch = len(data.y_train) // SCHEDULE_BATCH
    per_step = torch_schedule_rates(steps_per_epoch, per_epoch=False)
    per_epoch = torch_schedule_rates(steps_per_epoch, per_epoch=True)
    return {
        **rates_against_keras(per_step, per_epoch),
        "torch_test_accuracy_stepped_per_step": torch_mlp_accuracy(data, steps_per_epoch, per_step),
        "torch_test_accuracy_stepped_per_epoch": torch_mlp_accuracy(data, steps_per_epoch, per_epoch),
    }
