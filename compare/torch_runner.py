"""Train, evaluate and time one PyTorch model, the idiomatic way: a DataLoader,
an explicit training loop, `torch.inference_mode()` for evaluation, and
optionally `torch.compile`. The mirror of `keras_runner.py`."""

from __future__ import annotations

import math
import random
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from compare import backends
from compare.frameworks import Framework
from compare.params import torch_param_counts
from compare.port_torch import state_to_torch
from compare.registry import ModelSpec
from compare.timing import StepClock
from compare.weights import REFERENCE_IMAGES, REFERENCE_LOGITS, load_weights, max_abs_diff
from compare.worker import Outcome, Prepared

DATA_PATH = (
    "A torch.utils.data.DataLoader over an in-memory TensorDataset collates each batch "
    "on the host; the loop copies it to the device with .to(device, non_blocking=True)."
)


def evaluate(model: torch.nn.Module, loader: DataLoader, device: torch.device) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over `loader`, in inference mode."""
    model.eval()
    loss_sum, correct, count = 0.0, 0, 0
    with torch.inference_mode():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            logits = model(images)
            loss_sum += F.cross_entropy(logits, labels, reduction="sum").item()
            correct += (logits.argmax(dim=1) == labels).sum().item()
            count += len(labels)
    return loss_sum / count, correct / count


def run(spec: dict, data: Prepared, model_spec: ModelSpec, framework: Framework) -> Outcome:
    device = torch.device("cuda" if spec["device"] == "gpu" else "cpu")
    random.seed(spec["seed"])
    np.random.seed(spec["seed"])
    torch.manual_seed(spec["seed"])  # also seeds every CUDA device
    precision = backends.set_tf32("torch", spec["tf32"])
    if spec["deterministic"]:
        precision += "; " + backends.set_deterministic("torch")

    model = model_spec.torch_class()()
    step0 = None
    if spec["initial_weights"]:
        state, reference = load_weights(Path(spec["initial_weights"]))
        state_to_torch(state, model)
        with torch.no_grad():
            logits = model.eval()(torch.from_numpy(reference[REFERENCE_IMAGES])[:, None]).numpy()
        step0 = max_abs_diff(logits, reference[REFERENCE_LOGITS])
    model = model.to(device)
    step_model = torch.compile(model) if framework.torch_compile else model
    # torch's Adam epsilon defaults to 1e-8, Keras' to 1e-7: set explicitly.
    optimizer = torch.optim.Adam(model.parameters(), lr=spec["learning_rate"], eps=spec["adam_epsilon"])

    # torch.from_numpy shares memory with the arrays: no copy. Images become (N, 1, 28, 28).
    train_set = TensorDataset(torch.from_numpy(data.x_train).unsqueeze(1), torch.from_numpy(data.y_train))
    test_set = TensorDataset(torch.from_numpy(data.x_test).unsqueeze(1), torch.from_numpy(data.y_test))
    pin = device.type == "cuda"
    test_loader = DataLoader(test_set, batch_size=spec["eval_batch_size"], pin_memory=pin)

    clock = StepClock(spec["warmup_steps"])
    history, steps_done, diverged_at_step = [], 0, None
    clock.start()
    for epoch, order in enumerate(data.epoch_orders, start=1):
        # The shared epoch order as the sampler: every framework sees the same batches.
        loader = DataLoader(train_set, batch_size=spec["batch_size"], sampler=order.tolist(), pin_memory=pin)
        started = time.perf_counter()
        clock.new_epoch()
        model.train()
        losses = []
        for images, labels in loader:
            images = images.to(device, non_blocking=True)
            labels = labels.to(device, non_blocking=True)
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(step_model(images), labels)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())  # a host read: waits for the device to finish the step
            clock.tick()
            steps_done += 1
            if not math.isfinite(losses[-1]):
                diverged_at_step = steps_done
                break
        epoch_time_s = time.perf_counter() - started
        test_loss, test_accuracy = evaluate(step_model, test_loader, device)
        history.append({
            "epoch": epoch,
            "train_loss": sum(losses) / len(losses),
            "test_loss": test_loss,
            "test_accuracy": test_accuracy,
            "epoch_time_s": epoch_time_s,
        })
        if diverged_at_step is not None:
            break

    # The largest inference batch, copied to the device once; predict(n) slices it.
    test_images = test_set.tensors[0][: spec["inference_batch_size"]].to(device)

    def predict(n: int) -> torch.Tensor:
        with torch.inference_mode():
            return step_model(test_images[:n]).cpu()  # host copy: waits for the device

    step_model.eval()
    return Outcome(
        engine="torch",
        params=torch_param_counts(model),
        reference_params=model_spec.torch_params,
        history=history,
        clock=clock,
        diverged_at_step=diverged_at_step,
        step0_max_abs_logit_diff=step0,
        predict=predict,
        jit_compile=framework.torch_compile,
        precision=precision,
        data_path=DATA_PATH,
        device=backends.device_description("torch"),
        peak_device_memory_mb=backends.peak_device_memory_mb("torch"),
    )
