"""Train, evaluate and time one PyTorch model, the idiomatic way: the data on the
device once, an explicit training loop, `torch.inference_mode()` for evaluation,
and optionally `torch.compile`. The mirror of `keras_runner.py`, function by
function: configure, build, run, finish, fit, evaluate.

Regularization, the torch way:
- L2: the penalty λ·Σw² written into the loss, over the same kernels Keras penalizes.
- weight_decay: the optimizer's argument (what it does: compare.lessons.regularization).
- early stopping: the loop keeps a copy of the best weights and stops itself.
- augmentation: random affine transforms as tensor ops on the device, in the loop.

Data parallel (torch-ddp): torchrun starts this code once per device; each
process wraps the model in DistributedDataParallel, takes its share of every
batch (what a DistributedSampler would deal it), and backward() averages the gradients.
"""

from __future__ import annotations

import math
import os
import random
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch._dynamo  # noqa: F401  torch.optim imports it with the first optimizer (1 s): an import, not training
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from compare.catalog.frameworks import TORCH as TORCH_FAMILY
from compare.catalog.frameworks import Framework
from compare.catalog.registry import AUGMENT_MAX_DEGREES, AUGMENT_MAX_SHIFT, ModelSpec, learning_rate_factor
from compare.contract.job import JobSpec
from compare.contract.progress import Reporter
from compare.porting.params import torch_param_counts
from compare.porting.port_torch import state_to_torch, torch_to_state
from compare.porting.weights import REFERENCE_IMAGES, REFERENCE_LOGITS, load_weights, max_abs_diff
from compare.run.engines import TORCH, StepParts
from compare.run.runner_contract import Outcome, Prepared, TrainingLog, model_arguments, unless_unsupported
from compare.run.timing import CompileWatch, Phases
from compare.run.torch_recipes import l2_penalty
from torch_models.augment import RandomShiftRotate

SPLITS = ("train", "val", "test")
DATA_PATH = (
    "Device-resident: the training and test images are copied to the device once; each step indexes "
    "them with the epoch's shared order (no DataLoader, no per-step host copy). torch-compile compiles "
    "the model's forward and backward; evaluation and prediction run the same module eagerly."
)


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


def epoch_batches(order: torch.Tensor, batch_size: int, rank: int, world: int) -> list[torch.Tensor]:
    """The rows of this process's batches, in the epoch's shared order. With several
    processes each takes every world-th row of the global batch, as a DistributedSampler
    deals them: together the processes' k-th batches are the single-device k-th batch."""
    return [rows[rank::world] for rows in order.split(batch_size)]


def autocast(device: torch.device, precision: str):
    """bf16: matmuls and convolutions in bfloat16 under torch.autocast, the variables in
    float32 (what Keras' mixed_bfloat16 policy does); otherwise a context that does nothing."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


@dataclass(frozen=True)
class Placement:
    """Where this process trains: its rank among `world` processes, and its device."""

    rank: int
    world: int
    device: torch.device


def configure(spec: JobSpec, framework: Framework) -> tuple[Placement, str]:
    """Join the process group if any, seed everything, set the float32 precision."""
    place = Placement(*start_processes(framework, spec.device == "gpu"))
    random.seed(spec.seed)
    np.random.seed(spec.seed)
    torch.manual_seed(spec.seed + place.rank)  # also seeds every CUDA device; each process its own dropout masks
    setting = TORCH.set_precision(spec.precision)
    if spec.deterministic:
        setting += "; " + TORCH.set_deterministic()
    return place, setting


def build(spec: JobSpec, model_spec: ModelSpec, place: Placement) -> tuple[torch.nn.Module, float | None]:
    """The torch twin with the shared initial weights, on the device; and how far its
    step-0 logits lie from the reference logits that came with those weights."""
    model = model_spec.make(TORCH_FAMILY, **model_arguments(spec))
    step0 = None
    if spec.initial_weights:
        state, reference = load_weights(Path(spec.initial_weights))
        state_to_torch(state, model)
        with torch.no_grad():
            images = model_spec.model_inputs(torch.from_numpy(reference[REFERENCE_IMAGES]), TORCH_FAMILY)
            logits = model.eval()(images).numpy()
        step0 = max_abs_diff(logits, reference[REFERENCE_LOGITS])
    return model.to(place.device), step0


def step_module(model: torch.nn.Module, spec: JobSpec, framework: Framework, place: Placement) -> torch.nn.Module:
    """What each training step calls: the model itself, compiled, or wrapped for DDP."""
    if place.world > 1:
        # Broadcasts rank 0's weights now; averages the gradients in every backward().
        return DistributedDataParallel(model, device_ids=[place.device.index] if place.device.type == "cuda" else None)
    return torch.compile(model, mode=spec.compile_mode) if framework.torch_compile else model


def run(spec: JobSpec, data: Prepared, model_spec: ModelSpec, framework: Framework, phases: Phases) -> Outcome:
    place, precision_setting = configure(spec, framework)
    disk_cache = TORCH.inductor_disk_cache() if framework.torch_compile else None  # before anything compiles
    with phases.phase("build_and_weights"):
        model, step0 = build(spec, model_spec, place)
        step_model = step_module(model, spec, framework, place)
    with phases.phase("data"):  # to the device once: the steps index it there
        images, labels = on_device(data, model_spec, place)
    fit_started = time.perf_counter()
    compiles = CompileWatch(TORCH.dynamo_frames if framework.torch_compile else None)
    log, stopper, loop = unless_unsupported(
        lambda: fit(spec, data, images, labels, model, step_model, place, compiles),
        spec.precision,
        lambda: smallest_step_fp32(model, images["train"][:2], labels["train"][:2]),
    )
    log.add_phases(phases, fit_started)
    final_test, early_stopping = finish(log, stopper, model, images, labels, spec, phases)
    model.eval()
    return Outcome(
        engine=framework.engine,
        params=torch_param_counts(model),
        reference_params=model_spec.params[framework.family.name] if model_spec.params else None,
        history=log.history,
        clock=log.clock,
        diverged_at_step=log.diverged_at_step,
        step0_max_abs_logit_diff=step0,
        predict=partial(predict, model, images["test"], place, spec.precision),
        final_test=final_test,
        final_state=lambda: torch_to_state(model, images["test"][:2]),  # with its Flatten layouts
        early_stopping=early_stopping,
        jit_compile=framework.torch_compile,
        compilation=compilation_record(spec, log, disk_cache),
        precision_setting=precision_setting,
        data_path=DATA_PATH,
        device={**TORCH.device_description(), "count": place.world},
        peak_device_memory_mb=TORCH.peak_device_memory_mb(),
        steps_without_waiting=second_clock(loop, data, images, labels, place),
        step_times=partial(sweep_steps, loop, images["train"], labels["train"], framework.torch_compile),
        step_parts=partial(step_parts, loop, images["train"][: spec.batch_size], labels["train"][: spec.batch_size]),
    )


def second_clock(loop: Loop, data: Prepared, images: dict, labels: dict, place: Placement):
    """The steps that never wait for their losses; data parallel: every process would have to
    take them, and only the first reports, so they are left out."""
    if place.world > 1:
        return None
    return partial(steps_without_waiting, loop, data.epoch_orders, images["train"], labels["train"])


def compilation_record(spec: JobSpec, log: TrainingLog, disk_cache: dict | None) -> dict | None:
    """What torch.compile did, for torch-compile (whose disk cache was noted before it compiled)."""
    if disk_cache is None:
        return None
    return TORCH.compilation_record(spec.compile_mode, log.compiles.after_first_step, disk_cache)


def on_device(data: Prepared, model_spec: ModelSpec, place: Placement) -> tuple[dict, dict]:
    """Every split's images (as the model takes them) and labels, on the device."""
    shaped = data.shaped(lambda x: model_spec.model_inputs(x, TORCH_FAMILY))  # (N, 1, 28, 28) for an image model
    images = {split: torch.from_numpy(getattr(shaped, f"x_{split}")).to(place.device) for split in SPLITS}
    labels = {split: torch.from_numpy(getattr(data, f"y_{split}")).to(place.device) for split in SPLITS}
    return images, labels


def predict(model: torch.nn.Module, images: torch.Tensor, place: Placement, precision: str, n: int) -> torch.Tensor:
    """The logits of the first `n` test images, on the host (the copy waits for the device)."""
    with torch.inference_mode(), autocast(place.device, precision):
        return model(images[:n]).float().cpu()


def smallest_step_fp32(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> None:
    """A forward and backward pass on a few images, in float32 and eagerly: the case that
    tells a precision this machine lacks from a model that fails anyway."""
    F.cross_entropy(model.train()(images), labels).backward()
    model.zero_grad(set_to_none=True)


def finish(
    log: TrainingLog,
    stopper: EarlyStopping | None,
    model: torch.nn.Module,
    images: dict[str, torch.Tensor],
    labels: dict[str, torch.Tensor],
    spec: JobSpec,
    phases: Phases,
) -> tuple[dict, dict | None]:
    """The test loss and accuracy of the weights the run ends with, and the early
    stopping record: the best epoch's weights, restored as Keras' EarlyStopping does."""
    last = log.history[-1]
    if stopper is None:
        return {"loss": last["test_loss"], "accuracy": last["test_accuracy"]}, None
    stopper.restore_best(model)
    with phases.phase("evaluation"):
        final_test = evaluate(model, images["test"], labels["test"], spec)
    return final_test, {
        "patience": stopper.patience,
        "best_epoch": stopper.best_epoch,
        "stopped_epoch": stopper.stopped_epoch,
    }


def leave_together() -> None:
    """torch-ddp: every process waits here until all are done, the first one's result
    written; then each exits (os._exit) with its process group still up. A process that
    left earlier, or tore the group down while another still held DDP objects on it,
    could leave the other waiting forever (seen as a rare hang on a loaded CPU)."""
    if dist.is_initialized():
        dist.barrier()


def evaluate(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, spec: JobSpec) -> dict:
    """Mean loss (cross-entropy, plus the L2 penalty if any, as Keras reports it)
    and accuracy, in inference mode, over tensors already on the device. Evaluation
    runs the module itself, eagerly: every process evaluates everything, unsplit,
    and a compiled training step is never recompiled for eval mode or another batch shape."""
    l2 = spec.regularization.l2
    model.eval()
    loss_sum, correct = torch.zeros((), device=images.device), torch.zeros((), dtype=torch.int64, device=images.device)
    with torch.inference_mode(), autocast(images.device, spec.precision):
        for batch, batch_labels in zip(images.split(spec.eval_batch_size), labels.split(spec.eval_batch_size)):
            logits = model(batch).float()
            loss_sum += F.cross_entropy(logits, batch_labels, reduction="sum")
            correct += (logits.argmax(dim=1) == batch_labels).sum()
        penalty = l2_penalty(model, l2).item() if l2 else 0.0
    return {"loss": loss_sum.item() / len(labels) + penalty, "accuracy": correct.item() / len(labels)}


def running_means(losses: list[float], correct: torch.Tensor, batch_size: int) -> tuple[float, float]:
    """The epoch's running loss and accuracy so far (the accuracy read from the device)."""
    return sum(losses) / len(losses), correct.item() / (len(losses) * batch_size)


@dataclass(frozen=True)
class Loop:
    """What every step of the training loop uses."""

    spec: JobSpec
    model: torch.nn.Module  # the weights (L2 reads them)
    step_model: torch.nn.Module  # what the step calls: the model, compiled or wrapped for DDP
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    augment: RandomShiftRotate | None
    place: Placement
    new_graph_step: bool  # CUDA graphs replay into the same output buffers: declare each step new


def optimizer_and_schedule(
    spec: JobSpec, model: torch.nn.Module, total_steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """Adam, and the schedule as a factor of the peak rate, stepped after every batch like Keras'."""
    # torch's Adam epsilon defaults to 1e-8, Keras' to 1e-7: set explicitly.
    # torch's Adam adds weight_decay·w to the gradient (coupled); Keras decouples it.
    optimizer = torch.optim.Adam(
        model.parameters(), lr=spec.learning_rate, eps=spec.adam_epsilon, weight_decay=spec.regularization.weight_decay
    )
    factor = partial(learning_rate_factor, total_steps=total_steps, schedule=spec.schedule)
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def fit(
    spec: JobSpec,
    data: Prepared,
    images: dict[str, torch.Tensor],
    labels: dict[str, torch.Tensor],
    model: torch.nn.Module,
    step_model: torch.nn.Module,
    place: Placement,
    compiles: CompileWatch,
) -> tuple[TrainingLog, EarlyStopping | None, Loop]:
    """Train over every epoch in the shared orders, on `images`/`labels` already on the
    device; returns the epoch log, the early stopper and the loop (for the second clock)."""
    regularization = spec.regularization
    steps_per_epoch = len(data.y_train) // spec.batch_size
    optimizer, scheduler = optimizer_and_schedule(spec, model, len(data.epoch_orders) * steps_per_epoch)
    augment = RandomShiftRotate(AUGMENT_MAX_DEGREES, AUGMENT_MAX_SHIFT) if regularization.augment else None
    # CUDA graphs (reduce-overhead) need each step marked as a new one.
    new_graph_step = spec.compile_mode == "reduce-overhead" and place.device.type == "cuda"
    loop = Loop(spec, model, step_model, optimizer, scheduler, augment, place, new_graph_step=new_graph_step)
    patience = regularization.early_stopping_patience
    stopper = EarlyStopping(patience) if patience else None
    test = partial(evaluate, model, images["test"], labels["test"], spec)
    log = TrainingLog(spec, test, Reporter(len(data.epoch_orders), steps_per_epoch), compiles)
    log.clock.start()
    for epoch, order in enumerate(data.epoch_orders, start=1):
        # The shared epoch order: every framework sees the same batches.
        batches = epoch_batches(torch.from_numpy(order).to(place.device), spec.batch_size, place.rank, place.world)
        log.epoch_begins(epoch)
        train = train_epoch(loop, batches, images["train"], labels["train"], log)
        val = evaluate(model, images["val"], labels["val"], spec) if stopper else None
        reached_target = log.epoch_done(train, val)
        if (
            log.diverged_at_step is not None
            or reached_target
            or (stopper and stopper.should_stop(epoch, val["loss"], model))
        ):
            break
    return log, stopper, loop


def train_step(loop: Loop, batch: torch.Tensor, batch_labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of the workshop's loop on a batch already on the device: (logits, loss), not waited for."""
    spec = loop.spec
    if loop.augment is not None:
        batch = loop.augment(batch)  # (B, 1, 28, 28), on the device
    if loop.new_graph_step:
        torch.compiler.cudagraph_mark_step_begin()
    loop.optimizer.zero_grad(set_to_none=True)  # reset the gradients
    with autocast(loop.place.device, spec.precision):
        logits = loop.step_model(batch)  # forward pass
        loss = F.cross_entropy(logits, batch_labels)  # loss (autocast computes it in float32)
    if spec.regularization.l2:
        loss = loss + l2_penalty(loop.model, spec.regularization.l2)
    loss.backward()  # backpropagation
    loop.optimizer.step()  # update
    loop.scheduler.step()
    return logits, loss.detach()


def step_parts(loop: Loop, batch: torch.Tensor, batch_labels: torch.Tensor) -> StepParts:
    """The workshop's step in parts: forward and loss (read on the host), forward, loss and
    backward, and the optimizer's and the scheduler's step, each waited for."""

    def loss() -> torch.Tensor:
        with autocast(loop.place.device, loop.spec.precision):
            return F.cross_entropy(loop.step_model(batch), batch_labels)

    def gradients() -> None:
        loop.optimizer.zero_grad(set_to_none=True)
        loss().backward()
        TORCH.synchronize()

    def update(_) -> None:
        loop.optimizer.step()
        loop.scheduler.step()
        TORCH.synchronize()

    loop.step_model.train()
    return StepParts(lambda: loss().item(), gradients, update)


def sweep_steps(
    loop: Loop, images: torch.Tensor, labels: torch.Tensor, compiled: bool, batch_size: int, steps: int
) -> list[float]:
    """`steps` training steps on a batch of `batch_size` training images (repeated if there are
    fewer), each timed until its loss is on the host. torch.compile takes each batch size as a
    static shape of its own, compiled in the first step (as it compiled the training's)."""
    if compiled:
        torch._dynamo.config.automatic_dynamic_shapes = False  # a new size: a new static graph
        torch._dynamo.config.recompile_limit = 64  # one graph per batch size, and the training's
    rows = torch.arange(batch_size, device=images.device) % len(images)
    batch, batch_labels = images[rows], labels[rows]
    loop.step_model.train()
    durations = []
    for _ in range(steps):
        started = time.perf_counter()
        train_step(loop, batch, batch_labels)[1].item()  # the loss on the host: the step has finished
        durations.append(time.perf_counter() - started)
    return durations


def steps_without_waiting(
    loop: Loop, orders: list[np.ndarray], images: torch.Tensor, labels: torch.Tensor, steps: int
) -> float:
    """The second clock: `steps` more training steps through the shared orders, none of them
    waiting for its loss; seconds from the first request until the last loss is on the host."""
    rows = torch.from_numpy(np.concatenate(orders)).to(images.device).split(loop.spec.batch_size)[:steps]
    loop.step_model.train()
    started = time.perf_counter()
    for batch_rows in rows:
        _, loss = train_step(loop, images[batch_rows], labels[batch_rows])
    loss.item()  # the one wait
    return time.perf_counter() - started


def train_epoch(
    loop: Loop, batches: list[torch.Tensor], images: torch.Tensor, labels: torch.Tensor, log: TrainingLog
) -> dict:
    """One epoch of the explicit loop, the workshop's six steps; returns its mean loss and accuracy."""
    spec, place = loop.spec, loop.place
    loop.step_model.train()
    losses, correct = [], torch.zeros((), dtype=torch.int64, device=place.device)
    for rows in batches:
        batch_labels = labels[rows]
        logits, loss = train_step(loop, images[rows], batch_labels)
        correct += (logits.argmax(dim=1) == batch_labels).sum()
        if place.world > 1:
            dist.all_reduce(loss)  # the whole batch's loss, the same in every process
            loss /= place.world
        losses.append(loss.item())  # a host read: waits for the device to finish the step
        log.step_done(len(losses), losses[-1], partial(running_means, losses, correct, spec.batch_size // place.world))
        if log.diverged_at_step is not None:
            break
    if place.world > 1:
        dist.all_reduce(correct)
    return {"loss": sum(losses) / len(losses), "accuracy": correct.item() / (len(losses) * spec.batch_size)}
