"""The Keras twins on the backend named by KERAS_BACKEND (see tests/conftest.py)."""

import inspect

import keras
import numpy as np
import pytest

import keras_models
import torch_models
from compare.catalog.registry import MODELS
from compare.porting.params import keras_param_counts
from tests.cases import INVALID_ARGS


def to_nhwc(images: np.ndarray) -> np.ndarray:
    return (images.astype("float32") / 255.0)[..., None]  # (B, 28, 28, 1)


def build(name: str, **kwargs) -> keras.Model:
    model = MODELS[name].keras_class()(**kwargs)
    model.build((None, 28, 28, 1))
    return model


def predict(model: keras.Model, x: np.ndarray) -> np.ndarray:
    return keras.ops.convert_to_numpy(model(x, training=False))


@pytest.mark.parametrize("name", MODELS)
def test_output_shape_and_dtype(name):
    logits = MODELS[name].keras_class()()(np.random.rand(3, 28, 28, 1).astype("float32"))
    assert tuple(logits.shape) == (3, 10)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"


@pytest.mark.parametrize("name", MODELS)
def test_parameter_counts(name):
    model = build(name)
    trainable, non_trainable = MODELS[name].params["keras"]
    assert keras_param_counts(model) == (trainable, non_trainable)
    assert model.count_params() == trainable + non_trainable  # includes BN moving stats


@pytest.mark.parametrize("class_name", keras_models.__all__)
def test_twins_have_identical_constructor_signatures(class_name):
    assert keras_models.__all__ == torch_models.__all__

    def parameters(cls):
        # Keras layers also take **kwargs (name, dtype, ...), which torch lacks.
        return [
            (p.name, p.default, p.kind)
            for p in inspect.signature(cls.__init__).parameters.values()
            if p.kind is not inspect.Parameter.VAR_KEYWORD
        ]

    keras_cls = getattr(keras_models, class_name)
    torch_cls = getattr(torch_models, class_name)
    assert parameters(keras_cls) == parameters(torch_cls)


@pytest.mark.parametrize("name", MODELS)
def test_config_round_trip_gives_identical_predictions(name, sample_batch):
    model = build(name)
    clone = type(model).from_config(model.get_config())
    clone.build((None, 28, 28, 1))
    clone.set_weights(model.get_weights())
    assert clone.get_config() == model.get_config()
    x = to_nhwc(sample_batch[0][:8])
    # Same weights, same backend, same kernels: equal to float32 rounding.
    np.testing.assert_allclose(predict(clone, x), predict(model, x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", MODELS)
def test_saved_keras_file_reloads_with_identical_predictions(name, sample_batch, tmp_path):
    model = build(name)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    assert type(reloaded) is type(model)
    x = to_nhwc(sample_batch[0][:8])
    np.testing.assert_allclose(predict(reloaded, x), predict(model, x), rtol=0, atol=1e-6)


# Whether a few steps lower the loss is the model's property; whether a backend takes the same step
# is the one-step parity's (tests/keras_backend/test_porting.py, every model on every backend).
# So the compiled backends, where each model costs an XLA compile (13 s for the ResNetV2 on JAX),
# train the MLP here, and the torch backend every model.
TRAINED = list(MODELS) if keras.backend.backend() == "torch" else ["mlp"]


@pytest.mark.parametrize("name", TRAINED)
def test_a_few_steps_lower_the_loss(name, sample_batch):
    keras.utils.set_random_seed(0)
    images, labels = sample_batch
    model = build(name)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    x, y = to_nhwc(images), labels.astype("int64")
    losses = [float(model.train_on_batch(x, y)) for _ in range(MODELS[name].fit_steps)]
    # Same bound and reason as the torch twin's test (tests/cases.py).
    assert losses[-1] < 0.7 * losses[0], losses


@pytest.mark.parametrize("name, kwargs, argument, value", INVALID_ARGS)
def test_invalid_arguments_name_argument_and_value(name, kwargs, argument, value):
    with pytest.raises(ValueError, match=rf"`{argument}`.*Received: .*{value}"):
        MODELS[name].keras_class()(**kwargs)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize(
    "bad_input",
    [np.zeros((2, 1, 28, 28), "float32"), np.zeros((2, 28, 28), "float32"), np.zeros((2, 28, 28, 1), "int32")],
    ids=["nchw", "no-channel", "int32"],
)
def test_wrong_input_names_expected_and_received(name, bad_input):
    model = build(name)
    with pytest.raises(ValueError, match=r"\(batch, 28, 28, 1\).*Received: shape=") as error:
        model(bad_input)
    assert str(bad_input.shape) in str(error.value)
