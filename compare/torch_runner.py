"""Train, evaluate and time one PyTorch model, the idiomatic way: a DataLoader,
an explicit training loop, `torch.inference_mode()` for evaluation, and
optionally `torch.compile`. The mirror of `keras_runner.py`.

Regularization, the torch way:
- L2: the penalty λ·Σw² written into the loss, over the same kernels Keras penalizes.
- weight_decay: the optimizer's argument, which torch's Adam applies *coupled*
  (g ← g + wd·w, an L2 gradient term); AdamW would decouple it.
- early stopping: the loop keeps a copy of the best weights and stops itself.
- augmentation: random affine transforms as tensor ops on the device, in the loop.

Data parallel (torch-ddp): torchrun starts this code once per device; each
process wraps the model in DistributedDataParallel, takes its share of every
batch from a DistributedSampler, and backward() averages the gradients.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, Subset, TensorDataset

from compare import backends
from compare.frameworks import Framework
from compare.params import torch_param_counts
from compare.progress import Reporter
from compare.port_torch import state_to_torch, torch_to_state
from compare.registry import AUGMENT_MAX_DEGREES, AUGMENT_MAX_SHIFT, ModelSpec, learning_rate_factor
from compare.timing import Phases, StepClock
from compare.weights import REFERENCE_IMAGES, REFERENCE_LOGITS, load_weights, max_abs_diff
from compare.runner_contract import Outcome, Prepared, epoch_record, model_arguments
from torch_models.augment import RandomShiftRotate

DATA_PATH = (
    "A torch.utils.data.DataLoader over an in-memory TensorDataset collates each batch "
    "on the host; the loop copies it to the device with .to(device, non_blocking=True). torch-compile "
    "compiles the training step; evaluation and prediction run the same module eagerly."
)


def is_kernel(name: str, parameter: torch.nn.Parameter) -> bool:
    """Weight matrices and conv kernels (Keras' "kernels"): not biases, not
    normalization scales (1-D weights), not the position embedding."""
    return "weight" in name.rsplit(".", 1)[-1] and parameter.ndim >= 2


def l2_penalty(model: torch.nn.Module, l2: float) -> torch.Tensor:
    """l2·Σw² over every kernel: the term Keras' L2(l2) regularizers add to the loss."""
    return l2 * sum(p.square().sum() for name, p in model.named_parameters() if is_kernel(name, p))


class EarlyStopping:
    """Keras' `EarlyStopping(monitor="val_loss", restore_best_weights=True)`, spelled
    out: a lower validation loss than any before saves a copy of the weights;
    `patience` epochs in a row without one stop training; `restore_best` puts
    the saved weights back (Keras does so when fit ends, stopped early or not)."""

    def __init__(self, patience: int):
        self.patience = patience
        self.best_loss = math.inf
        self.best_epoch: int | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.stopped_epoch: int | None = None
        self.wait = 0

    def should_stop(self, epoch: int, val_loss: float, model: torch.nn.Module) -> bool:
        if val_loss < self.best_loss:  # False for NaN, as in Keras
            self.best_loss, self.best_epoch, self.wait = val_loss, epoch, 0
            self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            return False
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            return True
        return False

    def restore_best(self, model: torch.nn.Module) -> None:
        if self.best_state is not None:
            model.load_state_dict(self.best_state)


def start_processes(framework: Framework, gpu: bool) -> tuple[int, int, torch.device]:
    """(rank, world size, device) of this process; joins the process group under torchrun."""
    if not framework.data_parallel:
        return 0, 1, torch.device("cuda" if gpu else "cpu")
    # torchrun set RANK, LOCAL_RANK, WORLD_SIZE and the rendezvous address.
    dist.init_process_group("nccl" if gpu else "gloo")
    local_rank = int(os.environ["LOCAL_RANK"])
    if gpu:
        torch.cuda.set_device(local_rank)
    return dist.get_rank(), dist.get_world_size(), torch.device(f"cuda:{local_rank}" if gpu else "cpu")


def epoch_loader(dataset: TensorDataset, order: np.ndarray, batch_size: int, rank: int, world: int,
                 pin: bool) -> DataLoader:
    """The epoch's batches in the shared order. With several processes a
    DistributedSampler deals the order out: process r takes positions r, r + world,
    ..., so the processes' k-th batches together are the single-device k-th batch."""
    if world == 1:
        return DataLoader(dataset, batch_size=batch_size, sampler=order.tolist(), pin_memory=pin)
    in_order = Subset(dataset, order.tolist())
    sampler = DistributedSampler(in_order, num_replicas=world, rank=rank, shuffle=False)
    return DataLoader(in_order, batch_size=batch_size // world, sampler=sampler, pin_memory=pin)


class EpochLog:
    """Times every step, evaluates the test set after every epoch, reports progress,
    and notes a non-finite loss: the loop's twin of keras_runner.EpochLog."""

    def __init__(self, clock: StepClock, evaluate_test, progress: Reporter):
        self.clock, self.evaluate_test, self.progress = clock, evaluate_test, progress
        self.history: list[dict] = []
        self.evaluation_s = 0.0  # spent in evaluate_test
        self.steps_done = 0
        self.diverged_at_step: int | None = None

    def on_epoch_begin(self, epoch: int) -> None:
        self.clock.new_epoch()
        self.epoch = epoch
        self.started = time.perf_counter()

    def on_train_batch_end(self, step: int, loss: float, running: Callable[[], tuple[float, float]]) -> None:
        """After `step` (1-based), whose loss the host has read; `running()` gives the
        epoch's running (loss, accuracy), read only when progress is shown."""
        self.clock.tick()
        self.trained = time.perf_counter()
        self.steps_done += 1
        if not math.isfinite(loss) and self.diverged_at_step is None:
            self.diverged_at_step = self.steps_done
        if self.progress.wants_step():
            self.progress.step(self.epoch, step, *running())

    def on_epoch_end(self, train: dict, val: dict | None) -> None:
        started = time.perf_counter()
        test = self.evaluate_test()
        self.evaluation_s += time.perf_counter() - started
        self.history.append(epoch_record(self.epoch, train, val, test, self.trained - self.started,
                                         self.clock.elapsed_s()))
        self.progress.epoch_end(self.history[-1])


def run(spec: dict, data: Prepared, model_spec: ModelSpec, framework: Framework, phases: Phases) -> Outcome:
    rank, world, device = start_processes(framework, spec["device"] == "gpu")
    random.seed(spec["seed"])
    np.random.seed(spec["seed"])
    torch.manual_seed(spec["seed"] + rank)  # also seeds every CUDA device; each process its own dropout masks
    precision = backends.set_tf32("torch", spec["tf32"])
    if spec["deterministic"]:
        precision += "; " + backends.set_deterministic("torch")

    with phases.phase("build_and_weights"):
        model = model_spec.torch_class()(**model_arguments(spec))
        step0 = None
        if spec["initial_weights"]:
            state, reference = load_weights(Path(spec["initial_weights"]))
            state_to_torch(state, model)
            with torch.no_grad():
                logits = model.eval()(torch.from_numpy(reference[REFERENCE_IMAGES])[:, None]).numpy()
            step0 = max_abs_diff(logits, reference[REFERENCE_LOGITS])
        model = model.to(device)
        step_model = torch.compile(model) if framework.torch_compile else model
        if world > 1:
            # Broadcasts rank 0's weights now; averages the gradients in every backward().
            step_model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    fit_started = time.perf_counter()
    log, stopper = fit(spec, data, model, step_model, device, rank, world)
    phases.add("first_step", log.clock.time_to_first_step_s or 0.0)
    phases.add("evaluation", log.evaluation_s)
    phases.add("training", time.perf_counter() - fit_started - log.evaluation_s - (log.clock.time_to_first_step_s or 0.0))

    last = log.history[-1]
    final_test, early_stopping = {"loss": last["test_loss"], "accuracy": last["test_accuracy"]}, None
    if stopper:
        stopper.restore_best(model)  # as Keras' EarlyStopping does when fit ends
        with phases.phase("evaluation"):
            final_test = evaluate(model, data.x_test, data.y_test, spec, device)
        early_stopping = {"patience": stopper.patience, "best_epoch": stopper.best_epoch,
                          "stopped_epoch": stopper.stopped_epoch}

    # The largest inference batch, copied to the device once; predict(n) slices it.
    test_images = images_nchw(data.x_test[: spec["inference_batch_size"]]).to(device)

    def predict(n: int) -> torch.Tensor:
        with torch.inference_mode():
            return model(test_images[:n]).cpu()  # host copy: waits for the device

    if world > 1:
        dist.destroy_process_group()
    model.eval()
    return Outcome(
        engine="torch",
        params=torch_param_counts(model),
        reference_params=model_spec.torch_params,
        history=log.history,
        clock=log.clock,
        diverged_at_step=log.diverged_at_step,
        step0_max_abs_logit_diff=step0,
        predict=predict,
        final_test=final_test,
        final_state=lambda: torch_to_state(model),
        early_stopping=early_stopping,
        jit_compile=framework.torch_compile,
        precision=precision,
        data_path=DATA_PATH,
        device={**backends.device_description("torch"), "count": world},
        peak_device_memory_mb=backends.peak_device_memory_mb("torch"),
    )


def images_nchw(images: np.ndarray) -> torch.Tensor:
    """(N, 28, 28) float32 → (N, 1, 28, 28), sharing the array's memory (no copy)."""
    return torch.from_numpy(images).unsqueeze(1)


def evaluate(model: torch.nn.Module, images: np.ndarray, labels: np.ndarray, spec: dict,
             device: torch.device) -> dict:
    """Mean loss (cross-entropy, plus the L2 penalty if any, as Keras reports it)
    and accuracy, in inference mode. Evaluation runs the module itself, eagerly:
    every process evaluates everything, unsplit, and a compiled training step is
    never recompiled for eval mode or another batch shape."""
    l2 = spec["regularization"]["l2"]
    loader = DataLoader(TensorDataset(images_nchw(images), torch.from_numpy(labels)),
                        batch_size=spec["eval_batch_size"], pin_memory=device.type == "cuda")
    model.eval()
    loss_sum, correct, count = 0.0, 0, 0
    with torch.inference_mode():
        for batch, batch_labels in loader:
            batch, batch_labels = batch.to(device), batch_labels.to(device)
            logits = model(batch)
            loss_sum += F.cross_entropy(logits, batch_labels, reduction="sum").item()
            correct += (logits.argmax(dim=1) == batch_labels).sum().item()
            count += len(batch_labels)
        penalty = l2_penalty(model, l2).item() if l2 else 0.0
    return {"loss": loss_sum / count + penalty, "accuracy": correct / count}


def fit(spec: dict, data: Prepared, model: torch.nn.Module, step_model: torch.nn.Module, device: torch.device,
        rank: int, world: int) -> tuple[EpochLog, EarlyStopping | None]:
    """Train over every epoch in the shared orders, the explicit loop of the workshop's
    six steps; returns the epoch log and the early stopper."""
    regularization = spec["regularization"]
    l2 = regularization["l2"]
    # torch's Adam epsilon defaults to 1e-8, Keras' to 1e-7: set explicitly.
    # torch's Adam adds weight_decay·w to the gradient (coupled); Keras decouples it.
    optimizer = torch.optim.Adam(model.parameters(), lr=spec["learning_rate"], eps=spec["adam_epsilon"],
                                 weight_decay=regularization["weight_decay"])
    steps_per_epoch = len(data.y_train) // spec["batch_size"]
    # The schedule as a factor of the peak rate, stepped after every batch like Keras'.
    total_steps = len(data.epoch_orders) * steps_per_epoch
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: learning_rate_factor(step, total_steps, spec["schedule"]))
    augment = RandomShiftRotate(AUGMENT_MAX_DEGREES, AUGMENT_MAX_SHIFT) if regularization["augment"] else None
    patience = regularization["early_stopping_patience"]
    stopper = EarlyStopping(patience) if patience else None
    train_set = TensorDataset(images_nchw(data.x_train), torch.from_numpy(data.y_train))
    log = EpochLog(StepClock(spec["warmup_steps"]), lambda: evaluate(model, data.x_test, data.y_test, spec, device),
                   Reporter(len(data.epoch_orders), steps_per_epoch))
    pin = device.type == "cuda"
    log.clock.start()
    for epoch, order in enumerate(data.epoch_orders, start=1):
        # The shared epoch order: every framework sees the same batches.
        loader = epoch_loader(train_set, order, spec["batch_size"], rank, world, pin)
        log.on_epoch_begin(epoch)
        step_model.train()
        losses, correct = [], torch.zeros((), dtype=torch.int64, device=device)
        for images, labels in loader:  # 1. the next batch
            images = images.to(device, non_blocking=True)
            labels = labels.to(device, non_blocking=True)
            if augment is not None:
                images = augment(images)  # (B, 1, 28, 28), on the device
            optimizer.zero_grad(set_to_none=True)  # 2. reset the gradients
            logits = step_model(images)  # 3. forward pass
            loss = F.cross_entropy(logits, labels)  # 4. loss
            if l2:
                loss = loss + l2_penalty(model, l2)
            loss.backward()  # 5. backpropagation
            optimizer.step()  # 6. update
            scheduler.step()
            correct += (logits.argmax(dim=1) == labels).sum()
            loss = loss.detach()
            if world > 1:
                dist.all_reduce(loss)  # the whole batch's loss, the same in every process
                loss /= world
            losses.append(loss.item())  # a host read: waits for the device to finish the step
            step = len(losses)
            log.on_train_batch_end(step, losses[-1], lambda: (
                sum(losses) / step, correct.item() / (step * spec["batch_size"] // world)))
            if log.diverged_at_step is not None:
                break
        if world > 1:
            dist.all_reduce(correct)
        train = {"loss": sum(losses) / len(losses), "accuracy": correct.item() / (len(losses) * spec["batch_size"])}
        val = evaluate(model, data.x_val, data.y_val, spec, device) if stopper else None
        log.on_epoch_end(train, val)
        if log.diverged_at_step is not None or (stopper and stopper.should_stop(epoch, val["loss"], model)):
            break
    return log, stopper
