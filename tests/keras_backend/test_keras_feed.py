"""The Keras runner's training feed (compare.run.keras_runner) on this backend: it holds
every epoch's batches in the shared order, and one `fit` trains on them straight through."""

import keras
import numpy as np
import pytest

from compare.catalog.registry import AS_BUILT, Regularization
from compare.contract.job import JobSpec
from compare.run import keras_runner
from compare.run.engines import engine
from compare.run.keras_runner import training_batches
from compare.run.runner_contract import Prepared

BATCH_SIZE = 4
EPOCHS = 3


def shared_data() -> Prepared:
    """12 images whose pixels all equal their row number, so a batch names its rows; shaped
    (N, 28, 28, 1), as the Keras runner hands an image model its data."""
    images = np.repeat(np.arange(12, dtype=np.float32), 28 * 28).reshape(12, 28, 28)
    labels = np.arange(12) % 10
    orders = [np.random.default_rng([0, epoch]).permutation(12) for epoch in range(EPOCHS)]
    empty = np.zeros((0, 28, 28), np.float32)
    return Prepared(images, labels, empty, labels[:0], images, labels, orders).shaped(lambda x: x[..., None])


def expected_rows(data: Prepared) -> list[np.ndarray]:
    return [order[i : i + BATCH_SIZE] for order in data.epoch_orders for i in range(0, 12, BATCH_SIZE)]


class RowRecorder(keras.Model):
    """Notes the rows of every batch its train_step receives: concrete values once fit
    compiles nothing (jit_compile=False, and TensorFlow's functions run eagerly)."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(10)
        self.rows_seen: list[np.ndarray] = []

    def call(self, x):
        return self.dense(keras.ops.reshape(x, (-1, 28 * 28)))

    def train_step(self, *args):  # (data) on TensorFlow and torch; (state, data) on JAX
        images = args[-1][0]
        self.rows_seen.append(keras.ops.convert_to_numpy(images[:, 0, 0, 0]).astype(int))
        return super().train_step(*args)


def test_the_feed_holds_every_epochs_batches_in_the_shared_order():
    data = shared_data()
    feed = training_batches(engine(keras.backend.backend()), data, BATCH_SIZE)
    if isinstance(feed, keras.utils.PyDataset):
        batches = [feed[i] for i in range(len(feed))]
    else:  # a tf.data.Dataset
        batches = list(feed.as_numpy_iterator())
    assert len(batches) == EPOCHS * 3
    for (images, labels), rows in zip(batches, expected_rows(data)):
        assert images.shape == (BATCH_SIZE, 28, 28, 1)
        np.testing.assert_array_equal(images[:, 0, 0, 0], rows)
        np.testing.assert_array_equal(labels, data.y_train[rows])


def job(data: Prepared) -> JobSpec:
    """A run of EPOCHS epochs over `data` in batches of BATCH_SIZE, nothing else asked."""
    return JobSpec(
        model="mlp", framework="keras", devices=1, variant=AS_BUILT, regularization=Regularization(),
        validation_fraction=0.0, dataset="mnist", arrays="", epochs=EPOCHS, batch_size=BATCH_SIZE,
        learning_rate=1e-3, schedule="constant", train_samples=None, test_samples=None, seed=0, device="cpu",
        jit_compile="off", precision="fp32", compile_mode="default", target_accuracy=None, until_target=False,
        deterministic=False, adam_epsilon=1e-8, warmup_steps=0, latency_repeats=1, eval_batch_size=12,
        inference_batch_size=12,
    )  # fmt: skip


@pytest.fixture
def eager_steps():
    """TensorFlow runs fit's steps as graphs even without XLA: run them eagerly."""
    if keras.backend.backend() != "tensorflow":
        yield
        return
    import tensorflow as tf

    tf.config.run_functions_eagerly(True)
    yield
    tf.config.run_functions_eagerly(False)


def test_the_runners_fit_trains_on_the_shared_order_epoch_after_epoch(eager_steps):
    data = shared_data()
    model = RowRecorder()
    keras_runner.fit(job(data), data, model, jit_compile=False, adapter=engine(keras.backend.backend()))
    for seen, rows in zip(model.rows_seen, expected_rows(data), strict=True):
        np.testing.assert_array_equal(seen, rows)
