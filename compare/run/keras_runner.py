"""Train, evaluate and time one Keras model, the idiomatic way: `compile`, one
`fit` over all epochs with callbacks, `evaluate`, `predict_on_batch`.
Runs inside a worker whose KERAS_BACKEND is set. The mirror of `torch_runner.py`,
function by function: configure, build, run, finish, fit, evaluate.

Regularization, the Keras way:
- L2: a regularizer on every kernel; `fit` adds `model.losses` to the loss.
- weight_decay: the optimizer's argument (what it does: compare.lessons.regularization).
- early stopping: the `EarlyStopping` callback, restoring the best weights.
- augmentation: preprocessing layers in front of the model; `fit` runs them with
  training=True, `evaluate`/`predict` skip them.

Data parallel (keras-jax-dp): the same code inside a `DataParallel` distribution's
scope, which replicates the variables on every device and splits each batch.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import keras
import numpy as np

from compare.catalog.frameworks import KERAS, Framework
from compare.catalog.registry import AUGMENT_MAX_DEGREES, AUGMENT_MAX_SHIFT, ModelSpec
from compare.contract.job import JobSpec
from compare.contract.progress import Reporter
from compare.porting.params import keras_param_counts
from compare.porting.port_keras import build_model, keras_to_state, state_to_keras
from compare.porting.weights import REFERENCE_IMAGES, REFERENCE_LOGITS, load_weights, max_abs_diff
from compare.run.engines import TORCH, Engine, engine
from compare.run.keras_recipes import add_l2, learning_rate
from compare.run.runner_contract import Outcome, Prepared, TrainingLog, model_arguments, unless_unsupported
from compare.run.timing import CompileWatch, Phases
from keras_models.augment import RandomShiftRotate

# How a batch reaches the device in each feed an engine may prefer (Engine.keras_feed). Both
# serve every epoch its shared order within one fit, without a copy of the images per epoch.
# benchmarks/keras_feed.py measures them against fit on NumPy arrays.
DATA_PATHS = {
    "PyDataset": (
        "A keras.utils.PyDataset slices each batch from NumPy arrays on the host, in the shared "
        "order; the backend copies it to the device inside the step."
    ),
    "tf.data": (
        "A tf.data pipeline gathers each batch from tensors held by TensorFlow, in the shared order, "
        "on its own threads with prefetching: TensorFlow's idiomatic feed. A PyDataset reaches "
        "TensorFlow through tf.data.Dataset.from_generator, one Python call per batch."
    ),
}
JIT_COMPILE = {"auto": "auto", "on": True, "off": False}


class EpochBatches(keras.utils.PyDataset):
    """Every training batch of the run, epoch after epoch, in the shared orders.

    `fit(..., steps_per_epoch=S)` reads this one sequence of epochs × S batches
    straight through, so epoch e sees exactly the batches torch's loop sees.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, orders: list[np.ndarray], batch_size: int):
        super().__init__()
        self.images, self.labels, self.orders, self.batch_size = images, labels, orders, batch_size
        self.steps_per_epoch = len(orders[0]) // batch_size

    def __len__(self) -> int:
        return len(self.orders) * self.steps_per_epoch

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        epoch, step = divmod(index, self.steps_per_epoch)
        rows = self.orders[epoch][step * self.batch_size : (step + 1) * self.batch_size]
        return self.images[rows], self.labels[rows]  # (B, 28, 28, 1), (B,)


def tf_data_batches(images: np.ndarray, labels: np.ndarray, orders: list[np.ndarray], batch_size: int):
    """EpochBatches' sequence as a tf.data pipeline: the rows of every batch of every
    epoch, each turned into its images and labels by a gather on tf.data's threads."""
    import tensorflow as tf

    rows = np.concatenate(orders).reshape(-1, batch_size)  # (epochs × S, B): the orders hold whole batches
    images, labels = tf.constant(images), tf.constant(labels)
    return (
        tf.data.Dataset.from_tensor_slices(rows)
        .map(lambda batch: (tf.gather(images, batch), tf.gather(labels, batch)), num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


FEEDS = {"PyDataset": EpochBatches, "tf.data": tf_data_batches}  # each engine names one (Engine.keras_feed)


def training_batches(adapter: Engine, data: Prepared, batch_size: int):
    """Every training batch of the run in the shared orders, in the engine's feed (DATA_PATHS)."""
    return FEEDS[adapter.keras_feed](data.x_train, data.y_train, data.epoch_orders, batch_size)


class EpochLog(keras.callbacks.Callback):
    """Hands `fit`'s steps and epochs to the run's TrainingLog (compare.run.runner_contract),
    and stops training on a non-finite loss or at the target. Listed before
    EarlyStopping, so it sees each epoch's own weights."""

    def __init__(self, log: TrainingLog):
        super().__init__()
        self.log = log

    def on_epoch_begin(self, epoch, logs=None):
        self.log.epoch_begins(epoch + 1)  # Keras counts epochs from 0

    def on_train_batch_end(self, batch, logs=None):
        loss = float(logs["loss"])  # a host read: waits for the device to finish the step
        self.log.step_done(batch + 1, loss, lambda: (loss, float(logs["accuracy"])))  # the epoch's running means
        if self.log.diverged_at_step is not None:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        val = {"loss": logs["val_loss"], "accuracy": logs["val_accuracy"]} if "val_loss" in logs else None
        if self.log.epoch_done(logs, val):
            self.model.stop_training = True


def with_augmentation(model: keras.Model) -> keras.Model:
    """The model behind random shifts and rotations (active only in training)."""
    return keras.Sequential(
        [keras.Input((28, 28, 1)), RandomShiftRotate(AUGMENT_MAX_DEGREES, AUGMENT_MAX_SHIFT), model]
    )


def configure(spec: JobSpec, framework: Framework, adapter: Engine) -> tuple[Callable, int, str]:
    """Seed everything, set the float32 precision and the dtype policy; return the
    distribution's scope (keras-jax-dp) or a context that does nothing, and its device count."""
    adapter.seed_keras(spec.seed)
    setting = adapter.set_precision(spec.precision)
    if spec.precision == "bf16":
        # Variables in float32, computation in bfloat16: every layer built from here on.
        keras.config.set_dtype_policy("mixed_bfloat16")
        setting += "; keras.config.set_dtype_policy('mixed_bfloat16')"
    if spec.deterministic:
        setting += "; " + adapter.set_deterministic()
    if not framework.data_parallel:
        return contextlib.nullcontext, 1, setting
    # keras.distribution exists on the JAX backend only. Every variable replicated on each
    # device, every batch split across them; model code and fit are unchanged.
    devices = keras.distribution.list_devices()
    return keras.distribution.DataParallel(devices=devices).scope, len(devices), setting


def build(spec: JobSpec, model_spec: ModelSpec, distributed: Callable) -> tuple[keras.Model, float | None, dict | None]:
    """The Keras twin with the shared initial weights (and its L2 regularizers, if any); how
    far its step-0 logits lie from the reference logits that came with those weights; and
    those weights, whose torch names the final weights are saved under."""
    with distributed():
        model = model_spec.make(KERAS, **model_arguments(spec))
        build_model(model, model_spec.input_shape(KERAS))
    step0, state = None, None
    if spec.initial_weights:
        state, reference = load_weights(Path(spec.initial_weights))
        state_to_keras(state, model)  # torch layout → Keras layout, see compare.porting.port_keras
        # predict_on_batch compiles the whole forward pass once; an eager call on JAX would
        # compile each operation apart, several times slower.
        images = model_spec.model_inputs(reference[REFERENCE_IMAGES], KERAS)
        logits = np.asarray(model.predict_on_batch(images), dtype=np.float32)
        step0 = max_abs_diff(logits, reference[REFERENCE_LOGITS])
    if spec.regularization.l2:
        add_l2(model, spec.regularization.l2)
    return model, step0, state


def run(spec: JobSpec, data: Prepared, model_spec: ModelSpec, framework: Framework, phases: Phases) -> Outcome:
    adapter = engine(framework.engine)  # the catalog's engine, which KERAS_BACKEND named before import
    data = data.shaped(lambda images: model_spec.model_inputs(images, KERAS))  # (B, 28, 28, 1) for an image model
    distributed, device_count, precision_setting = configure(spec, framework, adapter)
    with phases.phase("build_and_weights"):
        model, step0, initial_state = build(spec, model_spec, distributed)
    fit_started = time.perf_counter()
    jit_compile = True if framework.keras_jit_compile else JIT_COMPILE[spec.jit_compile]
    disk_cache = disk_cache_before(adapter, jit_compile)
    with distributed():
        trained, log, stopper = unless_unsupported(
            lambda: fit(spec, data, model, jit_compile, adapter),
            spec.precision,
            lambda: smallest_step_fp32(model_spec, spec, data.x_train[:2], data.y_train[:2]),
        )
    log.add_phases(phases, fit_started)
    final_test, early_stopping = finish(log, stopper, trained, data, spec, phases)
    return Outcome(
        engine=adapter.name,
        params=keras_param_counts(model),
        reference_params=model_spec.params[framework.family.name] if model_spec.params else None,
        history=log.history,
        clock=log.clock,
        diverged_at_step=log.diverged_at_step,
        step0_max_abs_logit_diff=step0,
        # Outside the distribution: any batch size. Logits in float32 under bf16 too.
        predict=lambda n: np.asarray(trained.predict_on_batch(data.x_test[:n]), dtype=np.float32),
        final_test=final_test,
        final_state=lambda: keras_to_state(model, like=initial_state),
        early_stopping=early_stopping,
        jit_compile=trained.jit_compile,
        compilation=compilation_record(adapter, trained, log, disk_cache),
        precision_setting=precision_setting,
        data_path=DATA_PATHS[adapter.keras_feed],
        device={**adapter.device_description(), "count": device_count},
        peak_device_memory_mb=adapter.peak_device_memory_mb(),
        **({} if framework.data_parallel else after_training(trained, adapter, data, spec)),
    )


def after_training(trained: keras.Model, adapter: Engine, data: Prepared, spec: JobSpec) -> dict:
    """What a run on one device measures after its training (data parallel: one device's questions,
    left out): the second clock, the batch-size sweep and the step in parts."""
    return {
        "steps_without_waiting": second_clock(trained, adapter, data, spec),
        "step_times": partial(sweep_steps, trained, data),
        "step_parts": partial(step_parts, adapter, trained, data, spec.batch_size),
    }


def disk_cache_before(adapter: Engine, jit_compile: bool | str) -> dict | None:
    """Keras on torch with jit_compile hands its steps to torch.compile: its disk cache before it compiles."""
    return TORCH.inductor_disk_cache() if adapter.runs_torch_compile(jit_compile) else None


def compilation_record(adapter: Engine, trained: keras.Model, log: TrainingLog, disk_cache: dict | None) -> dict | None:
    """What torch.compile did, where Keras handed it the steps (Keras on torch with jit_compile)."""
    if not adapter.runs_torch_compile(trained.jit_compile):
        return None
    return TORCH.compilation_record("default", log.compiles.after_first_step, disk_cache)


def second_clock(trained: keras.Model, adapter: Engine, data: Prepared, spec: JobSpec):
    return partial(steps_without_waiting, trained, training_batches(adapter, data, spec.batch_size))


def smallest_step_fp32(model_spec: ModelSpec, spec: JobSpec, images: np.ndarray, labels: np.ndarray) -> None:
    """One training step on a few images of a new twin built in float32, eagerly: the case
    that tells a precision this machine lacks from a model that fails anyway."""
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        model = model_spec.make(KERAS, **model_arguments(spec))
    finally:
        keras.config.set_dtype_policy(policy)
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), run_eagerly=True)
    model.train_on_batch(images, labels)


def finish(
    log: TrainingLog,
    stopper: keras.callbacks.EarlyStopping | None,
    trained: keras.Model,
    data: Prepared,
    spec: JobSpec,
    phases: Phases,
) -> tuple[dict, dict | None]:
    """The test loss and accuracy of the weights the run ends with, and the early
    stopping record: EarlyStopping restored the best epoch's weights when fit ended."""
    last = log.history[-1]
    if stopper is None:
        return {"loss": last["test_loss"], "accuracy": last["test_accuracy"]}, None
    with phases.phase("evaluation"):
        final_test = evaluate(trained, data, spec)
    return final_test, {
        "patience": stopper.patience,
        "best_epoch": stopper.best_epoch + 1,  # Keras counts epochs from 0
        "stopped_epoch": stopper.stopped_epoch + 1 if stopper.stopped_epoch else None,
    }


def evaluate(model: keras.Model, data: Prepared, spec: JobSpec) -> dict:
    return model.evaluate(data.x_test, data.y_test, batch_size=spec.eval_batch_size, verbose=0, return_dict=True)


class StepTicks(keras.callbacks.Callback):
    """Each step's seconds in a `fit`, until its loss is on the host (the step clock's wait)."""

    def on_train_begin(self, logs=None):
        self.durations: list[float] = []
        self.last = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        float(logs["loss"])  # a host read: waits for the device to finish the step
        now = time.perf_counter()
        self.durations.append(now - self.last)
        self.last = now


def step_parts(adapter: Engine, trained: keras.Model, data: Prepared, batch_size: int):
    """Keras' step on the first training batch, in its engine's parts (compare.run.engines.StepParts)."""
    x, y = (keras.ops.convert_to_tensor(a[:batch_size]) for a in (data.x_train, data.y_train))
    return adapter.keras_step_parts(trained, x, y)


def sweep_steps(trained: keras.Model, data: Prepared, batch_size: int, steps: int) -> list[float]:
    """`steps` steps of `fit` at `batch_size` on the training images (repeated if there are fewer);
    the first compiles for the new shape where the backend compiles."""
    rows = np.arange(batch_size * steps) % len(data.y_train)
    ticks = StepTicks()
    x, y = data.x_train[rows], data.y_train[rows]
    trained.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0, callbacks=[ticks])
    return ticks.durations


def steps_without_waiting(trained: keras.Model, batches, steps: int) -> float:
    """The second clock: `steps` more training steps in one `fit` through the shared orders, with
    no callback reading a loss in between; seconds until fit returns (its logs on the host)."""
    started = time.perf_counter()
    trained.fit(batches, epochs=1, steps_per_epoch=steps, shuffle=False, verbose=0)
    return time.perf_counter() - started


def compile_for_training(trained: keras.Model, spec: JobSpec, total_steps: int, jit_compile: bool | str) -> None:
    trained.compile(
        # Keras' Adam epsilon defaults to 1e-7, torch's to 1e-8: set explicitly.
        # Keras' weight_decay is decoupled (AdamW-like); torch's Adam couples it.
        optimizer=keras.optimizers.Adam(
            learning_rate=learning_rate(spec.schedule, spec.learning_rate, total_steps),
            epsilon=spec.adam_epsilon,
            weight_decay=spec.regularization.weight_decay or None,
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=jit_compile,
    )


def early_stopping(patience: int | None) -> keras.callbacks.EarlyStopping | None:
    """Keras' own early stopping on the validation loss, restoring the best epoch's weights."""
    if not patience:
        return None
    return keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)


def fit(
    spec: JobSpec, data: Prepared, model: keras.Model, jit_compile: bool | str, adapter: Engine
) -> tuple[keras.Model, TrainingLog, keras.callbacks.EarlyStopping | None]:
    """Compile and fit `model` (behind the augmentation, if any) over every epoch;
    returns the model that was trained, the epoch log and the early stopper."""
    regularization = spec.regularization
    trained = with_augmentation(model) if regularization.augment else model
    epochs, steps_per_epoch = len(data.epoch_orders), len(data.y_train) // spec.batch_size
    batches = training_batches(adapter, data, spec.batch_size)
    compile_for_training(trained, spec, epochs * steps_per_epoch, jit_compile)
    compiles = CompileWatch(TORCH.dynamo_frames if adapter.runs_torch_compile(trained.jit_compile) else None)
    log = TrainingLog(
        spec,
        lambda: evaluate(trained, data, spec),
        Reporter(epochs, steps_per_epoch),
        compiles,
    )
    stopper = early_stopping(regularization.early_stopping_patience)
    validation = (data.x_val, data.y_val) if stopper else None
    callbacks = [EpochLog(log), *([stopper] if stopper else [])]
    log.clock.start()
    trained.fit(
        batches,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        shuffle=False,  # fit's default shuffles a PyDataset's batches: these already come in the shared order
        validation_data=validation,
        validation_batch_size=spec.eval_batch_size,
        callbacks=callbacks,
        verbose=0,
    )
    return trained, log, stopper
