"""Keras' own layer contract, checked by the harness Keras runs on its built-in layers.

`keras.src.testing.TestCase.run_layer_test` builds each layer from its arguments,
round-trips its config and serialization, trains it one `fit`, and builds it again
with `dtype="mixed_float16"` to check that it computes in float16 while keeping its
variables in float32. A block that does not hand its dtype policy to its sub-layers
fails that last check (float32 outputs, or float16 meeting float32 on TensorFlow).
"""

import keras
import numpy as np
import pytest
from keras.src.testing import TestCase

import keras_models

IMAGES = (2, 28, 28, 1)

# (layer class, constructor arguments, input shape, output shape, trainable weights, seed generators)
CASES = {
    "PreActBlock": (
        keras_models.PreActBlock,
        {"in_channels": 8, "out_channels": 16, "stride": 2},
        (2, 8, 8, 8),
        (2, 4, 4, 16),
        7,
        0,
    ),
    "PatchEmbedding": (keras_models.PatchEmbedding, {}, IMAGES, (2, 16, 64), 3, 0),
    "EncoderBlock": (keras_models.EncoderBlock, {}, (2, 16, 64), (2, 16, 64), 16, 1),
    "RandomShiftRotate": (keras_models.RandomShiftRotate, {}, IMAGES, IMAGES, 0, 2),
    "MLP": (keras_models.MLP, {}, IMAGES, (2, 10), 6, 1),
    "ResNetV2": (keras_models.ResNetV2, {}, IMAGES, (2, 10), None, 0),
    "TransformerClassifier": (keras_models.TransformerClassifier, {}, IMAGES, (2, 10), None, 2),
    "LSTMClassifier": (keras_models.LSTMClassifier, {}, IMAGES, (2, 10), 5, 1),
}

# The whole models are built of the blocks above and hand their dtype policy on as the blocks do;
# what they add to the contract (config, serialization, the policy handed on) does not depend on the
# backend. So the compiled backends, where each whole model costs a compile (ResNetV2 6 s on JAX,
# 4 s on TensorFlow), check every block and the MLP, and the torch backend every class.
WHOLE_MODELS = ("ResNetV2", "TransformerClassifier", "LSTMClassifier")
CHECKED = list(CASES) if keras.backend.backend() == "torch" else [n for n in CASES if n not in WHOLE_MODELS]


def test_every_exported_keras_class_has_a_contract_case():
    """A new model or block exported from keras_models is checked only once it has a case here."""
    missing = sorted(set(keras_models.__all__) - set(CASES))
    assert not missing, f"add a case to CASES in {__file__} for: {', '.join(missing)}"


@pytest.mark.parametrize("name", CHECKED)
def test_keras_layer_contract(name):
    layer_class, kwargs, input_shape, output_shape, trainable, seed_generators = CASES[name]
    TestCase().run_layer_test(
        layer_class,
        init_kwargs=kwargs,
        input_shape=input_shape,
        expected_output_shape=output_shape,
        expected_num_trainable_weights=trainable,
        expected_num_seed_generators=seed_generators,
        run_training_check=True,
        run_mixed_precision_check=True,
    )


def test_a_mixed_precision_block_computes_in_float16_and_keeps_float32_variables():
    block = keras_models.EncoderBlock(dtype="mixed_float16")
    out = block(np.random.rand(2, 16, 64).astype("float32"))
    assert keras.backend.standardize_dtype(out.dtype) == "float16"
    assert {v.dtype for v in block.weights} == {"float32"}
    assert {layer.dtype_policy.name for layer in block._flatten_layers(include_self=False)} == {"mixed_float16"}
