"""Weight porting, parity and the framework-difference checks on this Keras backend."""

import math

import keras
import numpy as np
import pytest
import torch

from compare.catalog.registry import MODELS
from compare.data.datasets import load_sample
from compare.lessons import differences, parity, schedule_training
from compare.porting import port_keras
from compare.porting.port_keras import keras_to_state, state_to_keras
from compare.porting.port_torch import state_to_torch, torch_to_state
from compare.porting.weights import PortingError, max_abs_diff
from tests.cases import torch_bf16_lstm_error


def tensorflow_sees_a_gpu() -> bool:
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


@pytest.fixture(scope="module")
def digits(sample_batch):
    images, labels = sample_batch
    return images[:16].astype(np.float32) / 255.0, labels[:16].astype(np.int64)


def keras_logits(model, images):
    return keras.ops.convert_to_numpy(model(images[..., None], training=False))


def torch_logits(model, images):
    with torch.no_grad():
        return model.eval()(torch.from_numpy(images)[:, None]).numpy()


@pytest.mark.parametrize("name", MODELS)
def test_torch_to_keras_gives_the_same_logits(name, digits):
    result = parity.inference_parity(name, digits[0])
    assert result["passed"], result  # max |Δ| ≤ 1e-4, see compare/lessons/parity.py


@pytest.mark.parametrize("name", MODELS)
def test_keras_to_torch_gives_the_same_logits(name, digits):
    keras.utils.set_random_seed(1)
    keras_model = MODELS[name].keras_class()()
    keras_model.build((None, 28, 28, 1))
    torch_model = MODELS[name].torch_class()()
    state_to_torch(keras_to_state(keras_model), torch_model)
    diff = max_abs_diff(keras_logits(keras_model, digits[0]), torch_logits(torch_model, digits[0]))
    assert diff <= parity.LOGIT_TOLERANCE


@pytest.mark.parametrize("name", MODELS)
def test_round_trip_returns_the_same_weights(name):
    torch.manual_seed(3)
    original = torch_to_state(MODELS[name].torch_class()())
    keras_model = MODELS[name].keras_class()()
    keras_model.build((None, 28, 28, 1))
    state_to_keras(original, keras_model)
    back = keras_to_state(keras_model)
    assert sorted(back) == sorted(original)
    for key in original:
        if key.startswith("lstm.bias_"):
            continue  # one Keras bias: torch's pair comes back as (sum, zeros)
        np.testing.assert_array_equal(back[key], original[key], err_msg=key)
    if name == "lstm":
        np.testing.assert_allclose(
            back["lstm.bias_ih_l0"] + back["lstm.bias_hh_l0"],
            original["lstm.bias_ih_l0"] + original["lstm.bias_hh_l0"],
            atol=1e-7,
        )


@pytest.mark.parametrize("name", MODELS)
def test_one_training_step_matches(name, digits):
    result = parity.training_parity(name, *digits)
    assert result["passed"], result
    if name == "lstm":
        assert result["lstm_summed_bias_step_ratio_torch_over_keras"] == pytest.approx(2.0, rel=1e-3)
    if name == "resnet_v2":
        assert result["bn_running_mean_max_abs_diff"] <= parity.LOGIT_TOLERANCE
        # Bessel's correction: n = 16 images × 28 × 28 per channel in the stem, so ≥ 1/(n−1).
        assert 1e-5 < result["bn_running_var_max_rel_diff"] < 1e-2


def test_a_forgotten_dense_transpose_is_caught_by_shape(monkeypatch):
    def untransposed(layer, w, where):
        port_keras.assign(layer.kernel, w["weight"], "weight", where)

    dense = port_keras.PORTS[keras.layers.Dense]
    monkeypatch.setitem(
        port_keras.PORTS, keras.layers.Dense, port_keras.Port(dense.names, dense.to_torch, untransposed)
    )
    model = MODELS["mlp"].keras_class()()
    model.build((None, 28, 28, 1))
    with pytest.raises(PortingError, match=r"hidden\.0\.weight .*expects shape \(784, 256\).*\(256, 784\)"):
        state_to_keras(torch_to_state(MODELS["mlp"].torch_class()()), model)


def test_a_forgotten_square_transpose_is_caught_by_parity(monkeypatch, digits):
    # The attention output projection is 64×64: a missing transpose fits, so
    # only the parity check can catch it.
    def out_proj_untransposed(layer, w, where):
        port_keras.attention_from_torch(layer, {**w, "out_proj.weight": w["out_proj.weight"].T}, where)

    attention = port_keras.PORTS[keras.layers.MultiHeadAttention]
    monkeypatch.setitem(
        port_keras.PORTS,
        keras.layers.MultiHeadAttention,
        port_keras.Port(attention.names, attention.to_torch, out_proj_untransposed),
    )
    result = parity.inference_parity("transformer", digits[0])
    assert not result["passed"] and result["max_abs_logit_diff"] > 100 * parity.LOGIT_TOLERANCE


def test_shape_mismatch_names_the_layer_and_both_shapes():
    small = MODELS["resnet_v2"].keras_class()(stem_channels=16)
    small.build((None, 28, 28, 1))
    # Which layer is reached first depends on attribute order; each names itself and both shapes.
    with pytest.raises(
        PortingError,
        match=r"\(layer '[\w.]+'\): the model expects shape \([^)]*16[^)]*\), "
        r"the weights have shape \([^)]*32[^)]*\)",
    ):
        state_to_keras(torch_to_state(MODELS["resnet_v2"].torch_class()()), small)


def test_unexpected_weights_are_named():
    state = torch_to_state(MODELS["mlp"].torch_class()())
    state["extra.weight"] = np.zeros(3, np.float32)
    model = MODELS["mlp"].keras_class()()
    model.build((None, 28, 28, 1))
    with pytest.raises(PortingError, match="extra.weight"):
        state_to_keras(state, model)


# --- each framework difference is measured, with the number it should have ---


def test_batch_norm_defaults(digits):
    m = differences.batch_norm_defaults(images=digits[0])["measured"]
    assert m["keras_default_running_mean"] == pytest.approx(0.01 * m["batch_mean"], rel=1e-4)
    assert m["torch_default_running_mean"] == pytest.approx(0.1 * m["batch_mean"], rel=1e-4)
    assert m["normalized_max_abs_diff_from_epsilon"] > 0.1


def test_parameters_vs_buffers():
    m = differences.parameters_vs_buffers()["measured"]
    assert m["keras_count_params"] - m["keras_trainable"] == m["torch_float_buffers"] == 1_792
    assert m["torch_parameters"] == m["keras_trainable"] == 677_162
    assert m["torch_num_batches_tracked"] == 12


def test_stride2_padding(digits):
    m = differences.stride2_padding(images=digits[0])["measured"]
    assert m["same_vs_torch_max_abs_diff"] > 0.1
    assert m["explicit_pad_vs_torch_max_abs_diff"] <= 1e-5
    assert m["output_shape_keras"][1:3] == [14, 14]


def test_channels_last(digits):
    m = differences.channels_last(images=digits[0])["measured"]
    assert m["keras_shape"][1:] == [28, 28, 4] and m["torch_shape"][1:] == [4, 28, 28]
    assert m["max_abs_diff_after_transpose"] <= 1e-5
    assert m["fraction_of_flattened_positions_that_differ"] > 0.3


def test_lstm_bias_and_gates(digits):
    m = differences.lstm_bias_and_gates(images=digits[0])["measured"]
    assert m["torch_extra_parameters"] == 4 * 128
    assert m["ported_max_abs_logit_diff"] <= parity.LOGIT_TOLERANCE
    assert m["wrong_gate_order_max_abs_logit_diff"] > 1e-2
    assert m["keras_kernel_shape"] == [28, 512] and m["torch_weight_ih_shape"] == [512, 28]


def test_dense_layout_and_init(digits):
    m = differences.dense_layout_and_init(images=digits[0], labels=digits[1])["measured"]
    assert m["keras_kernel_shape"] == [784, 256] and m["torch_weight_shape"] == [256, 784]
    # glorot_uniform: std sqrt(2 / (784 + 256)) = 0.0439; kaiming_uniform(a=√5): 1 / sqrt(3 · 784) = 0.0206.
    assert m["keras_kernel_std"] == pytest.approx(math.sqrt(2 / 1040), rel=0.02)
    assert m["torch_weight_std"] == pytest.approx(1 / math.sqrt(3 * 784), rel=0.02)
    assert m["keras_default_initial_loss"] != m["torch_default_initial_loss"]


def test_gelu_approximation():
    m = differences.gelu_approximation()["measured"]
    assert 1e-4 < m["ops_gelu_default_vs_exact_max_abs_diff"] < 1e-3
    assert m["activations_gelu_vs_torch_max_abs_diff"] <= 1e-6
    assert m["ops_gelu_exact_vs_torch_max_abs_diff"] <= 1e-6


def test_layer_norm_epsilon():
    m = differences.layer_norm_epsilon()["measured"]
    assert m["default_epsilons_max_abs_diff"] > 0.1
    assert m["matched_epsilon_max_abs_diff"] <= 1e-5


def test_adam_epsilon():
    m = differences.adam_epsilon()["measured"]
    g = 1e-8  # the second gradient: Adam's first step is lr · g / (|g| + ε)
    assert m["torch_default_1e-8"][1] == pytest.approx(1e-3 * g / (g + 1e-8), rel=1e-3)
    assert m["keras_default_1e-7"][1] == pytest.approx(1e-3 * g / (g + 1e-7), rel=1e-3)
    # Keras: lr·√(1−β₂)/(1−β₁) · m / (√v + ε) with m = 0.1 g, √v = √0.001 g.
    expected = 1e-3 * math.sqrt(0.001) / 0.1 * (0.1 * g) / (math.sqrt(0.001) * g + 1e-8)
    assert m["keras_adam_epsilon_1e-8"][1] == pytest.approx(expected, rel=1e-2)
    assert m["torch_default_1e-8"][-1] == pytest.approx(1e-3, rel=1e-3)


def test_compile_and_precision_defaults():
    m = differences.compile_and_precision_defaults()["measured"]
    backend = keras.backend.backend()
    assert m["keras_backend"] == backend
    # "auto" means XLA on JAX; on TensorFlow only with a GPU (Keras skips XLA on CPU-only machines).
    assert m["keras_fit_jit_compile_auto"] is (backend == "jax" or tensorflow_sees_a_gpu())
    assert m["torch_matmul_allow_tf32_default"] is False


@pytest.mark.parametrize("name", MODELS)
def test_ported_weights_saved_as_a_state_dict_load_without_pickle(name, digits, tmp_path):
    keras.utils.set_random_seed(2)
    keras_model = MODELS[name].keras_class()()
    keras_model.build((None, 28, 28, 1))
    torch_model = MODELS[name].torch_class()()
    state_to_torch(keras_to_state(keras_model), torch_model)
    torch.save(torch_model.state_dict(), tmp_path / "weights.pt")
    reloaded = MODELS[name].torch_class()()
    reloaded.load_state_dict(torch.load(tmp_path / "weights.pt", weights_only=True))  # tensors only, no code
    diff = max_abs_diff(keras_logits(keras_model, digits[0]), torch_logits(reloaded, digits[0]))
    assert diff <= parity.LOGIT_TOLERANCE


def test_keras_and_torch_schedules_give_the_same_rates_when_torch_steps_per_batch():
    """The rates alone, on every backend: Keras' schedule is computed by the backend."""
    steps_per_epoch = len(load_sample().y_train) // schedule_training.SCHEDULE_BATCH
    m = schedule_training.rates_against_keras(
        schedule_training.torch_schedule_rates(steps_per_epoch, per_epoch=False),
        schedule_training.torch_schedule_rates(steps_per_epoch, per_epoch=True),
    )
    peak = schedule_training.SCHEDULE_PEAK_RATE
    assert m["max_abs_rate_diff_keras_vs_torch_per_step"] <= 1e-5 * peak  # float32 against float64
    # Stepped per epoch, the warm-up written in steps never leaves 0 in the first epoch.
    assert m["steps_at_rate_0_per_epoch"] == steps_per_epoch
    assert m["max_abs_rate_diff_keras_vs_torch_per_epoch"] > 0.5 * peak


if keras.backend.backend() == "torch":  # the lesson trains torch's MLP twice: once, not once per backend

    def test_scheduler_stepped_per_epoch():
        m = differences.scheduler_stepped_per_epoch()["measured"]
        assert m["steps"] == schedule_training.SCHEDULE_EPOCHS * m["steps_at_rate_0_per_epoch"]
        # A third of the budget lost: measured 85.2% against 92.5% on a 2-core CPU.
        assert m["torch_test_accuracy_stepped_per_epoch"] < m["torch_test_accuracy_stepped_per_step"] - 0.02


def test_bf16_compute(digits):
    measured = differences.bf16_compute(images=digits[0])["measured"]
    lstm_error = torch_bf16_lstm_error()
    for name, m in measured["models"].items():
        if name == "lstm" and lstm_error:  # no bf16 LSTM kernel on this CPU: recorded, with torch's words
            assert list(m) == ["unsupported"] and list(m["unsupported"]) == ["torch"], m
            assert lstm_error in m["unsupported"]["torch"]
            assert "lstm on torch" in measured["not_run"]
            continue
        assert m["passed"], (name, m)  # within 3% of the largest logit, see mixed_precision.BF16_RELATIVE_TOLERANCE
        assert m["keras_float32"] == []  # every Keras layer returns its policy's compute dtype
        assert "Dense" in m["keras_bfloat16"] and "Linear" in m["torch_bfloat16"]
    # autocast keeps layer_norm on its float32 list: the transformer's LayerNorms return float32.
    assert measured["models"]["transformer"]["torch_float32"] == ["LayerNorm"]
    assert (measured["not_run"] == "none") == (lstm_error is None)
