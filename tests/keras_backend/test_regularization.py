"""The regularization options on the Keras side, checked against torch where
they should agree and against the documented formulas where they should not."""

import keras
import numpy as np
import pytest
import torch

from compare.catalog.registry import MODELS
from compare.porting.port_keras import state_to_keras
from compare.porting.port_torch import torch_to_state
from compare.run.keras_recipes import add_l2
from compare.run.keras_runner import with_augmentation
from compare.run.torch_recipes import l2_penalty
from compare.run.torch_runner import EarlyStopping as TorchEarlyStopping
from keras_models import RandomShiftRotate
from tests.cases import EARLY_STOPPING_CASES


@pytest.mark.parametrize("name", MODELS)
def test_l2_penalizes_the_same_weights_as_torch(name):
    """add_l2 (Keras' kernels) and l2_penalty (torch's weight matrices) pick the same
    weights: on ported twins the penalties agree to float32 summation rounding."""
    torch.manual_seed(0)
    torch_model = MODELS[name].torch_class()()
    keras_model = MODELS[name].keras_class()()
    keras_model.build((None, 28, 28, 1))
    state_to_keras(torch_to_state(torch_model), keras_model)
    add_l2(keras_model, 1e-3)
    keras_penalty = float(sum(keras.ops.convert_to_numpy(loss) for loss in keras_model.losses))
    with torch.no_grad():
        torch_penalty = float(l2_penalty(torch_model, 1e-3))
    assert keras_penalty > 0
    assert keras_penalty == pytest.approx(torch_penalty, rel=1e-5)


def test_l2_penalty_is_added_to_the_training_loss(sample_batch):
    images, labels = (sample_batch[0][:32].astype("float32") / 255)[..., None], sample_batch[1][:32]
    model = MODELS["mlp"].keras_class()(dropout_rate=0.0)
    model.build((None, 28, 28, 1))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    cross_entropy = float(keras.ops.convert_to_numpy(loss(labels, model(images))))
    add_l2(model, 1e-2)
    kernels = [w for w in model.trainable_weights if w.name == "kernel"]
    penalty = 1e-2 * sum(float(np.sum(keras.ops.convert_to_numpy(w).astype(np.float64) ** 2)) for w in kernels)
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss=loss)  # lr 0: the weights stay put
    assert float(model.test_on_batch(images, labels)) == pytest.approx(cross_entropy + penalty, rel=1e-5)


@pytest.mark.parametrize("losses, patience, stopped, best", EARLY_STOPPING_CASES)
def test_keras_early_stopping_matches_the_torch_loop(losses, patience, stopped, best):
    """keras.callbacks.EarlyStopping, driven epoch by epoch as fit drives it, stops
    and restores exactly where compare.run.torch_runner.EarlyStopping does."""
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
    callback = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
    callback.set_model(model)
    model.stop_training = False  # as fit sets it
    callback.on_train_begin()
    for epoch, loss in enumerate(losses):  # Keras counts epochs from 0
        model.set_weights([np.full((1, 1), epoch + 1, np.float32)])
        callback.on_epoch_end(epoch, {"val_loss": loss})
        if model.stop_training:
            break
    callback.on_train_end()
    keras_outcome = (callback.stopped_epoch + 1 if callback.stopped_epoch else None, callback.best_epoch + 1)
    assert keras_outcome == (stopped, best)
    assert model.get_weights()[0].item() == best

    torch_stopper = TorchEarlyStopping(patience)
    dummy = torch.nn.Linear(1, 1)
    for epoch, loss in enumerate(losses, start=1):
        if torch_stopper.should_stop(epoch, loss, dummy):
            break
    assert (torch_stopper.stopped_epoch, torch_stopper.best_epoch) == keras_outcome


def test_augmentation_is_active_in_fit_only(sample_batch):
    images = (sample_batch[0][:32].astype("float32") / 255)[..., None]  # (B, 28, 28, 1)
    augment = RandomShiftRotate()
    moved = keras.ops.convert_to_numpy(augment(images, training=True))
    assert moved.shape == images.shape
    assert np.abs(moved - images).max(axis=(1, 2, 3)).min() > 0.1  # every image changed
    assert moved.sum() / images.sum() == pytest.approx(1.0, abs=0.02)  # strokes stay in frame
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(augment(images)), images)
    # In front of a model: predictions are the bare model's (augmentation off at inference).
    model = MODELS["mlp"].keras_class()()
    wrapped = with_augmentation(model)
    np.testing.assert_allclose(wrapped.predict_on_batch(images), model.predict_on_batch(images), rtol=0, atol=1e-6)


def test_keras_adam_weight_decay_is_decoupled():
    """keras.optimizers.Adam(weight_decay=wd) shrinks w by lr·wd·w, then takes the
    plain Adam step lr·g/(|g| + ε/√(1−β₂)) (Keras' first step, ε before the
    bias correction): the decay does not pass through the normalization."""
    lr, wd, eps, beta_2 = 1e-3, 0.1, 1e-8, 0.999
    gradient = np.array([0.0, 1e-3, -2.0], np.float32)
    weight = keras.Variable(np.ones(3, np.float32))
    keras.optimizers.Adam(lr, epsilon=eps, weight_decay=wd).apply_gradients(
        [(keras.ops.convert_to_tensor(gradient), weight)]
    )
    expected = 1.0 - lr * wd - lr * gradient / (np.abs(gradient) + eps / np.sqrt(1 - beta_2))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(weight), expected, rtol=0, atol=1e-7)
