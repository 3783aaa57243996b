"""Train, evaluate and time one Keras model, the idiomatic way: `compile`, `fit`,
`evaluate`, `predict_on_batch`. Runs inside a worker whose KERAS_BACKEND is set."""

from __future__ import annotations

import math
import time
from pathlib import Path

import keras

from compare import backends
from compare.frameworks import Framework
from compare.params import keras_param_counts
from compare.port_keras import state_to_keras
from compare.registry import ModelSpec
from compare.timing import StepClock
from compare.weights import REFERENCE_IMAGES, REFERENCE_LOGITS, load_weights, max_abs_diff
from compare.worker import Outcome, Prepared

DATA_PATH = (
    "NumPy arrays passed to model.fit/evaluate; Keras' data adapter slices each batch "
    "on the host and the backend copies it to the device inside the step "
    "(through tf.data on TensorFlow)."
)
JIT_COMPILE = {"auto": "auto", "on": True, "off": False}


class StepTimer(keras.callbacks.Callback):
    """Feeds the StepClock from fit's batch hooks and stops on a non-finite loss."""

    def __init__(self, clock: StepClock):
        super().__init__()
        self.clock = clock
        self.steps_done = 0
        self.diverged_at_step: int | None = None

    def on_epoch_begin(self, epoch, logs=None):
        self.clock.new_epoch()

    def on_train_batch_end(self, batch, logs=None):
        loss = float(logs["loss"])  # a host read: waits for the device to finish the step
        self.clock.tick()
        self.steps_done += 1
        if not math.isfinite(loss) and self.diverged_at_step is None:
            self.diverged_at_step = self.steps_done
            self.model.stop_training = True


def run(spec: dict, data: Prepared, model_spec: ModelSpec, framework: Framework) -> Outcome:
    engine = keras.backend.backend()
    keras.utils.set_random_seed(spec["seed"])  # Python's random, NumPy and the backend
    precision = backends.set_tf32(engine, spec["tf32"])
    if spec["deterministic"]:
        precision += "; " + backends.set_deterministic(engine)

    model = model_spec.keras_class()()
    model.build((None, 28, 28, 1))
    step0 = None
    if spec["initial_weights"]:
        state, reference = load_weights(Path(spec["initial_weights"]))
        state_to_keras(state, model)  # torch layout → Keras layout, see compare.port_keras
        step0 = max_abs_diff(model.predict_on_batch(reference[REFERENCE_IMAGES][..., None]),
                             reference[REFERENCE_LOGITS])
    model.compile(
        # Keras' Adam epsilon defaults to 1e-7, torch's to 1e-8: set explicitly.
        optimizer=keras.optimizers.Adam(learning_rate=spec["learning_rate"], epsilon=spec["adam_epsilon"]),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=JIT_COMPILE[spec["jit_compile"]],
    )

    x_train, x_test = data.x_train[..., None], data.x_test[..., None]  # (B, 28, 28, 1)
    clock = StepClock(spec["warmup_steps"])
    timer = StepTimer(clock)
    history = []
    clock.start()
    for epoch, order in enumerate(data.epoch_orders, start=1):
        started = time.perf_counter()
        fit = model.fit(
            x_train[order], data.y_train[order], batch_size=spec["batch_size"],
            epochs=1, shuffle=False, verbose=0, callbacks=[timer],
        )
        epoch_time_s = time.perf_counter() - started
        test = model.evaluate(x_test, data.y_test, batch_size=spec["eval_batch_size"], verbose=0, return_dict=True)
        history.append({
            "epoch": epoch,
            "train_loss": float(fit.history["loss"][-1]),
            "test_loss": float(test["loss"]),
            "test_accuracy": float(test["accuracy"]),
            "epoch_time_s": epoch_time_s,
        })
        if timer.diverged_at_step is not None:
            break

    return Outcome(
        engine=engine,
        params=keras_param_counts(model),
        reference_params=model_spec.keras_params,
        history=history,
        clock=clock,
        diverged_at_step=timer.diverged_at_step,
        step0_max_abs_logit_diff=step0,
        predict=lambda n: model.predict_on_batch(x_test[:n]),
        jit_compile=model.jit_compile,
        precision=precision,
        data_path=DATA_PATH,
        device=backends.device_description(engine),
        peak_device_memory_mb=backends.peak_device_memory_mb(engine),
    )
