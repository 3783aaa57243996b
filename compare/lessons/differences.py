"""The framework-differences lesson: each difference the twins had to agree on, one
entry each (compare.lessons.difference): its words, a check that measures it on this
Keras backend, and a summary filled in from the measured numbers.

Runs inside a process whose KERAS_BACKEND is set (`python -m compare.lessons.worker`).
"""

from __future__ import annotations

import math

import keras
import numpy as np
import torch
import torch.nn.functional as F

from compare.catalog.registry import MODELS
from compare.data.datasets import load_sample
from compare.lessons.difference import Difference, difference
from compare.lessons.mixed_precision import bf16_across_models
from compare.lessons.parity import nchw, to_numpy, twins
from compare.lessons.schedule_training import per_step_against_per_epoch
from compare.porting.weights import max_abs_diff
from compare.run.engines import engine

DIFFERENCES: list[Difference] = []  # in the order the report tells them


@difference(
    DIFFERENCES,
    "BatchNorm momentum convention and epsilon",
    explanation=(
        "Keras' `momentum` is the weight of the *old* running statistic (default 0.99), torch's the "
        "weight of the *new* batch statistic (default 0.1): the same word, opposite meanings, and "
        "different defaults. Keras' epsilon defaults to 1e-3, torch's to 1e-5, which matters for "
        "channels of small variance. torch also updates running_var with the unbiased batch "
        "variance (n/(n-1)), Keras with the biased one (see the training parity table)."
    ),
    fix="keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)  # ≡ nn.BatchNorm2d(C, momentum=0.1, eps=1e-5)",
    summary=(
        "after one step on a batch of mean {batch_mean:.3f}, Keras' default moving mean is "
        "{keras_default_running_mean:.4f} (momentum 0.99 keeps 99% of the old 0), torch's "
        "{torch_default_running_mean:.4f} (momentum 0.1 takes 10% of the batch); on a channel of variance 1e-4 "
        "the two default epsilons (1e-3 vs 1e-5) change normalized outputs by up to "
        "{normalized_max_abs_diff_from_epsilon:.3f}"
    ),
)
def batch_norm_defaults(images: np.ndarray) -> dict:
    """Keras BatchNormalization() vs torch BatchNorm2d() defaults, one training step."""
    shifted = images[:, None] * 4.0 + 3.0  # channel mean ≈ 3.5: easy to follow
    keras_bn = keras.layers.BatchNormalization()  # momentum 0.99, epsilon 1e-3
    keras_bn(np.moveaxis(shifted, 1, -1), training=True)
    torch_bn = torch.nn.BatchNorm2d(1)  # momentum 0.1, eps 1e-5
    torch_bn.train()(torch.from_numpy(shifted))
    batch_mean = float(shifted.mean())
    keras_mean = float(to_numpy(keras_bn.moving_mean)[0])
    torch_mean = float(torch_bn.running_mean[0])
    # Epsilon on a channel of tiny variance: how far the normalized values move.
    tiny = np.full((4, 1, 1, 1), 0.0, np.float32)
    tiny[::2] = 0.02  # variance 1e-4, comparable to Keras' epsilon 1e-3
    out_keras_eps = to_numpy(keras.layers.BatchNormalization()(tiny, training=True))
    out_torch_eps = torch.nn.BatchNorm2d(1).train()(torch.from_numpy(tiny)).detach().numpy()
    return {
        "batch_mean": batch_mean,
        "keras_default_running_mean": keras_mean,
        "torch_default_running_mean": torch_mean,
        "normalized_max_abs_diff_from_epsilon": max_abs_diff(out_keras_eps, out_torch_eps),
    }


@difference(
    DIFFERENCES,
    "Parameters versus buffers",
    explanation=(
        "Keras' `count_params()` counts every weight, trainable or not, so it includes BatchNorm's "
        "moving mean and variance. torch keeps those as buffers, outside `parameters()`, together "
        "with an integer `num_batches_tracked` per BatchNorm that Keras does not have."
    ),
    fix="sum(p.numel() for p in m.parameters()) + sum(b.numel() for b in m.buffers() if b.is_floating_point())",
    summary=(
        "ResNetV2: Keras count_params() = {keras_count_params:,} (trainable {keras_trainable:,}); "
        "torch parameters() = {torch_parameters:,} plus {torch_float_buffers:,} running statistics in buffers "
        "(and {torch_num_batches_tracked} integer step counters)"
    ),
)
def parameters_vs_buffers() -> dict:
    keras_model = MODELS["resnet_v2"].keras_class()()
    keras_model.build((None, 28, 28, 1))
    torch_model = MODELS["resnet_v2"].torch_class()()
    counts = {
        "keras_count_params": keras_model.count_params(),
        "keras_trainable": sum(math.prod(w.shape) for w in keras_model.trainable_weights),
        "torch_parameters": sum(p.numel() for p in torch_model.parameters()),
        "torch_float_buffers": sum(b.numel() for b in torch_model.buffers() if b.is_floating_point()),
        "torch_num_batches_tracked": sum(
            1 for n, _ in torch_model.named_buffers() if n.endswith("num_batches_tracked")
        ),
    }
    return counts


@difference(
    DIFFERENCES,
    'Stride-2 `padding="same"` versus `padding=1`',
    explanation=(
        'At stride 2 on an even input, `padding="same"` needs one extra row and column and puts '
        "them at the bottom and right only (TensorFlow's convention); torch's `padding=1` pads all "
        "four sides. With identical weights the outputs are shifted by a pixel."
    ),
    fix='x = keras.layers.ZeroPadding2D(1)(x); keras.layers.Conv2D(f, 3, strides=2, padding="valid")(x)',
    summary=(
        "same weights, 28×28 input: padding='same' differs from torch's padding=1 by up to "
        "{same_vs_torch_max_abs_diff:.3f} (it pads only bottom/right); ZeroPadding2D(1) + 'valid' matches to "
        "{explicit_pad_vs_torch_max_abs_diff:.1e}"
    ),
)
def stride2_padding(images: np.ndarray) -> dict:
    """Conv 3×3 stride 2 with identical weights: Keras padding='same' vs torch padding=1."""
    torch.manual_seed(0)
    torch_conv = torch.nn.Conv2d(1, 8, 3, stride=2, padding=1, bias=False)
    kernel = torch_conv.weight.detach().numpy().transpose(2, 3, 1, 0)  # OIHW → HWIO
    same = keras.layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False)
    same.build((None, 28, 28, 1))
    same.kernel.assign(kernel)
    x = images[..., None]
    with torch.no_grad():
        expected = torch_conv(nchw(images)).numpy().transpose(0, 2, 3, 1)  # NCHW → NHWC
    out_same = to_numpy(same(x))
    padded = keras.ops.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])  # 1 pixel on every side
    out_padded = to_numpy(keras.ops.conv(padded, kernel, strides=2, padding="valid"))
    return {
        "same_vs_torch_max_abs_diff": max_abs_diff(out_same, expected),
        "explicit_pad_vs_torch_max_abs_diff": max_abs_diff(out_padded, expected),
        "output_shape_keras": list(out_same.shape),
    }


@difference(
    DIFFERENCES,
    "Channels-last versus channels-first",
    explanation=(
        "Keras images are (B, H, W, C), torch's (B, C, H, W); conv kernels are HWIO and OIHW. The "
        "values agree after a transpose, but anything that flattens a feature map (a Dense after a "
        "conv) sees the numbers in a different order, so ported Dense rows must be permuted."
    ),
    fix="torch_x = keras_x.transpose(0, 3, 1, 2); torch_w = keras_kernel.transpose(3, 2, 0, 1)",
    summary=(
        "Keras output {keras_shape} vs torch {torch_shape}: equal to {max_abs_diff_after_transpose:.1e} after "
        "transposing, but flattened without transposing {fraction_of_flattened_positions_that_differ:.0%} of "
        "positions hold a different value (with 4 channels)"
    ),
)
def channels_last(images: np.ndarray) -> dict:
    """The same conv in NHWC (Keras) and NCHW (torch); flattening order with C > 1."""
    torch.manual_seed(0)
    torch_conv = torch.nn.Conv2d(1, 4, 3, padding=1, bias=False)
    kernel = torch_conv.weight.detach().numpy().transpose(2, 3, 1, 0)
    out_keras = to_numpy(keras.ops.conv(images[..., None], kernel, padding="same"))  # (B, H, W, C)
    with torch.no_grad():
        out_torch = torch_conv(nchw(images)).numpy()  # (B, C, H, W)
    flat_keras = out_keras.reshape(len(images), -1)
    flat_torch = out_torch.reshape(len(images), -1)
    moved = float(np.mean(flat_keras != flat_torch))
    return {
        "keras_shape": list(out_keras.shape),
        "torch_shape": list(out_torch.shape),
        "max_abs_diff_after_transpose": max_abs_diff(out_keras.transpose(0, 3, 1, 2), out_torch),
        "fraction_of_flattened_positions_that_differ": moved,
    }


@difference(
    DIFFERENCES,
    "LSTM: one bias versus two, gate order, weight layout",
    explanation=(
        "torch's LSTM keeps `bias_ih` and `bias_hh`, which are only ever added: 4×units more "
        "parameters for the same function. Both order the gates input, forget, cell, output. Keras' "
        "kernel is (inputs, 4·units), torch's weight_ih its transpose. Trained, each torch bias gets "
        "the full gradient, so their sum moves twice as far per step as Keras' one bias (see the "
        "LSTM bias step in the parity table)."
    ),
    fix="keras_bias = bias_ih + bias_hh; keras_kernel = weight_ih.T; keras_recurrent = weight_hh.T",
    summary=(
        "torch's LSTM has {torch_extra_parameters} more parameters (bias_ih + bias_hh = 2×4×{units}); ported "
        "weights (kernel {keras_kernel_shape} = weight_ih {torch_weight_ih_shape} transposed, biases summed) match "
        "to {ported_max_abs_logit_diff:.1e}; with the cell and output gates swapped the logits are off by "
        "{wrong_gate_order_max_abs_logit_diff:.2f}"
    ),
)
def lstm_bias_and_gates(images: np.ndarray) -> dict:
    """One bias vs two; gate order i, f, c, o in both; kernel layout transposed."""
    keras_model, torch_model = twins("lstm", seed=0)
    with torch.no_grad():
        expected = torch_model.eval()(nchw(images)).numpy()
    ported = to_numpy(keras_model(images[..., None], training=False))
    # The same weights with Keras' cell and output gates swapped (i, f, o, c):
    cell = keras_model.lstm.cell

    def swap(matrix):  # noqa: E306 - columns are [i | f | c | o] blocks of `units`
        i, f, c, o = np.split(to_numpy(matrix), 4, axis=-1)
        return np.concatenate([i, f, o, c], axis=-1)

    for variable in (cell.kernel, cell.recurrent_kernel, cell.bias):
        variable.assign(swap(variable))
    swapped = to_numpy(keras_model(images[..., None], training=False))
    extra = sum(p.numel() for p in torch_model.lstm.parameters()) - sum(
        math.prod(w.shape) for w in keras_model.lstm.weights
    )
    return {
        "units": cell.units,
        "torch_extra_parameters": extra,
        "ported_max_abs_logit_diff": max_abs_diff(ported, expected),
        "wrong_gate_order_max_abs_logit_diff": max_abs_diff(swapped, expected),
        "keras_kernel_shape": list(cell.kernel.shape),
        "torch_weight_ih_shape": list(torch_model.lstm.weight_ih_l0.shape),
    }


@difference(
    DIFFERENCES,
    "Dense/Linear layout and default initializers",
    explanation=(
        "Keras' Dense kernel is (in, out) and starts glorot_uniform with zero bias; torch's Linear "
        "weight is (out, in) and starts kaiming_uniform(a=√5) (a smaller spread) with a uniform bias. "
        "Default-initialized twins therefore start from different losses."
    ),
    fix="nn.init.xavier_uniform_(linear.weight); nn.init.zeros_(linear.bias)  # Keras' defaults in torch",
    summary=(
        "Dense(256) on 784 inputs: kernel {keras_kernel_shape}, std {keras_kernel_std:.4f} (glorot_uniform); "
        "Linear: weight {torch_weight_shape}, std {torch_weight_std:.4f} (kaiming_uniform(a=√5)); "
        "default-initialized MLPs start at loss {keras_default_initial_loss:.3f} (Keras) and "
        "{torch_default_initial_loss:.3f} (torch), chance is {chance_loss:.3f}"
    ),
)
def dense_layout_and_init(images: np.ndarray, labels: np.ndarray) -> dict:
    """Kernel (in, out) vs weight (out, in); glorot_uniform vs kaiming_uniform(a=√5)."""
    keras.utils.set_random_seed(0)
    torch.manual_seed(0)
    dense = keras.layers.Dense(256)
    dense.build((None, 784))
    linear = torch.nn.Linear(784, 256)
    # Default-initialized MLPs of the same shape, no shared weights: initial loss.
    keras_mlp = keras.Sequential(
        [keras.layers.Dense(256, activation="relu"), keras.layers.Dense(128, activation="relu"), keras.layers.Dense(10)]
    )
    torch_mlp = torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10)
    )
    flat = images.reshape(len(images), -1)
    keras_loss = float(
        to_numpy(keras.losses.sparse_categorical_crossentropy(labels, keras_mlp(flat), from_logits=True)).mean()
    )
    with torch.no_grad():
        torch_loss = F.cross_entropy(torch_mlp(torch.from_numpy(flat)), torch.from_numpy(labels)).item()
    return {
        "keras_kernel_shape": list(dense.kernel.shape),
        "torch_weight_shape": list(linear.weight.shape),
        "keras_kernel_std": float(np.std(to_numpy(dense.kernel))),
        "torch_weight_std": float(linear.weight.detach().std()),
        "keras_default_initial_loss": keras_loss,
        "torch_default_initial_loss": torch_loss,
        "chance_loss": math.log(10),
    }


@difference(
    DIFFERENCES,
    "GELU: tanh approximation versus exact",
    explanation=(
        "`keras.ops.gelu(x)` defaults to the tanh approximation; `keras.activations.gelu`, torch's "
        "`F.gelu` and `nn.GELU` default to the exact erf form."
    ),
    fix="keras.ops.gelu(x, approximate=False)  # ≡ torch.nn.functional.gelu(x)",
    summary=(
        "on [-5, 5], keras.ops.gelu(x) (tanh approximation) differs from the exact GELU by up to "
        "{ops_gelu_default_vs_exact_max_abs_diff:.1e}; keras.activations.gelu and "
        "keras.ops.gelu(x, approximate=False) match torch's nn.GELU to {ops_gelu_exact_vs_torch_max_abs_diff:.1e}"
    ),
)
def gelu_approximation() -> dict:
    x = np.linspace(-5, 5, 10_001, dtype=np.float32)
    ops_default = to_numpy(keras.ops.gelu(x))  # approximate=True: tanh
    exact = to_numpy(keras.ops.gelu(x, approximate=False))
    activation = to_numpy(keras.activations.gelu(x))  # approximate=False by default
    torch_exact = F.gelu(torch.from_numpy(x)).numpy()
    return {
        "ops_gelu_default_vs_exact_max_abs_diff": max_abs_diff(ops_default, exact),
        "activations_gelu_vs_torch_max_abs_diff": max_abs_diff(activation, torch_exact),
        "ops_gelu_exact_vs_torch_max_abs_diff": max_abs_diff(exact, torch_exact),
    }


@difference(
    DIFFERENCES,
    "LayerNorm epsilon",
    explanation=(
        "Keras' LayerNormalization adds 1e-3 to the variance, torch's LayerNorm 1e-5: small "
        "activations are normalized differently."
    ),
    fix="keras.layers.LayerNormalization(epsilon=1e-5)  # ≡ nn.LayerNorm(d, eps=1e-5)",
    summary=(
        "tokens of std 0.05: LayerNormalization() (ε 1e-3) and nn.LayerNorm (ε 1e-5) differ by up to "
        "{default_epsilons_max_abs_diff:.3f}; with epsilon=1e-5 by {matched_epsilon_max_abs_diff:.1e}"
    ),
)
def layer_norm_epsilon() -> dict:
    rng = np.random.default_rng(0)
    tokens = (rng.standard_normal((8, 64)) * 0.05).astype(np.float32)  # small activations: variance 2.5e-3
    keras_default = to_numpy(keras.layers.LayerNormalization()(tokens))  # epsilon 1e-3
    torch_default = torch.nn.LayerNorm(64)(torch.from_numpy(tokens)).detach().numpy()  # eps 1e-5
    matched = to_numpy(keras.layers.LayerNormalization(epsilon=1e-5)(tokens))
    return {
        "default_epsilons_max_abs_diff": max_abs_diff(keras_default, torch_default),
        "matched_epsilon_max_abs_diff": max_abs_diff(matched, torch_default),
    }


@difference(
    DIFFERENCES,
    "Adam epsilon",
    explanation=(
        "Adam divides by √v + ε. Keras' default ε is 1e-7, torch's 1e-8: for gradients near ε the "
        "first updates differ by up to a factor of ten."
    ),
    fix="keras.optimizers.Adam(learning_rate, epsilon=1e-8)  # ≡ torch.optim.Adam(params, lr, eps=1e-8)",
    summary=(
        "first step, lr 1e-3, gradient 1e-8: torch's Adam moves the weight {torch_default_1e-8[1]:.2e} with its "
        "ε = 1e-8 and {keras_default_1e-7[1]:.2e} with ε = 1e-7; keras.optimizers.Adam(epsilon=1e-8) moves it "
        "{keras_adam_epsilon_1e-8[1]:.2e}, because Keras adds ε before the bias correction (effectively "
        "ε/√(1-β₂ᵗ) = 3.2e-7 at step 1); for large gradients all give 1e-3"
    ),
)
def adam_epsilon() -> dict:
    """First Adam step on tiny gradients, with each framework's default epsilon."""
    gradient = np.array([1e-9, 1e-8, 1e-7, 1e-6, 1e-3], np.float32)
    updates = {}
    for label, eps in (("keras_default_1e-7", 1e-7), ("torch_default_1e-8", 1e-8)):
        weight = torch.zeros(5, requires_grad=True)
        optimizer = torch.optim.Adam([weight], lr=1e-3, eps=eps)
        weight.grad = torch.from_numpy(gradient)
        optimizer.step()
        updates[label] = (-weight.detach().numpy()).tolist()
    keras_weight = keras.Variable(np.zeros(5, np.float32))
    keras.optimizers.Adam(learning_rate=1e-3, epsilon=1e-8).apply_gradients(
        [(keras.ops.convert_to_tensor(gradient), keras_weight)]
    )
    return {"gradient": gradient.tolist(), **updates, "keras_adam_epsilon_1e-8": (-to_numpy(keras_weight)).tolist()}


@difference(
    DIFFERENCES,
    "Compilation and float32 matmul precision defaults",
    explanation=(
        'Keras\' `compile(jit_compile="auto")` compiles `fit` with XLA on JAX, and on TensorFlow only '
        "when a GPU is present (Keras turns XLA off on CPU-only machines); on the torch backend it runs "
        "eagerly. Plain torch is eager unless you call `torch.compile`. On "
        "Ampere and newer GPUs TensorFlow and JAX use TF32 for float32 matmuls by default, torch "
        "does not: set one precision everywhere before comparing."
    ),
    fix=(
        "torch.backends.cuda.matmul.allow_tf32 = False; jax.config.update('jax_default_matmul_precision', "
        "'highest'); tf.config.experimental.enable_tensor_float_32_execution(False)"
    ),
    summary=(
        "on the {keras_backend} backend, compile(jit_compile='auto') resolves to {keras_fit_jit_compile_auto}; "
        "torch.compile is opt-in; torch's float32 matmuls use TF32: {torch_matmul_allow_tf32_default}; "
        "{backend_float32_matmuls}"
    ),
)
def compile_and_precision_defaults() -> dict:
    model = keras.Sequential([keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")  # jit_compile="auto"
    model.build((None, 3))
    backend = keras.backend.backend()
    return {
        "keras_backend": backend,
        "keras_fit_jit_compile_auto": bool(model.jit_compile),
        "torch_matmul_allow_tf32_default": torch.backends.cuda.matmul.allow_tf32,
        **engine(backend).float32_matmul_default(),
    }


# ---- Schedules and precision: what the same setting does step by step. ----


@difference(
    DIFFERENCES,
    "Learning-rate schedules: read every step in Keras, stepped by hand in torch",
    explanation=(
        "A Keras `LearningRateSchedule` is a function of the optimizer's step count, read at every "
        "update. A torch scheduler moves only when the loop calls `scheduler.step()`. Many tutorials call "
        "it once per epoch; with a schedule written in steps (warm-up, then cosine decay) that freezes the "
        "rate for a whole epoch, and a warm-up from 0 trains the entire first epoch at rate 0."
    ),
    fix="scheduler.step()  # after every optimizer.step(), as Keras' schedule advances: not once per epoch",
    summary=(
        "warm-up + cosine over {steps} steps (the MLP's default budget): torch's LambdaLR stepped per batch "
        "follows Keras' schedule to {max_abs_rate_diff_keras_vs_torch_per_step:.1e}; stepped once per epoch it "
        "trains {steps_at_rate_0_per_epoch} steps (the whole first epoch) at rate 0 and ends {epochs} epochs at "
        "{torch_test_accuracy_stepped_per_epoch:.1%} test accuracy instead of "
        "{torch_test_accuracy_stepped_per_step:.1%}"
    ),
)
def scheduler_stepped_per_epoch() -> dict:
    """A schedule written in optimizer steps: Keras reads it at every step; a torch
    scheduler stepped once per epoch holds each epoch at one rate."""
    return per_step_against_per_epoch(load_sample())


@difference(
    DIFFERENCES,
    "Mixed bfloat16: a dtype policy per layer versus autocast per op",
    explanation=(
        "Keras' `mixed_bfloat16` policy gives every layer float32 variables and bfloat16 computation; a "
        "layer may compute parts in float32 inside (normalization statistics), but returns bfloat16. "
        "`torch.autocast` decides per op: matmuls and convolutions run in bfloat16, ops on its float32 "
        "list (layer_norm among them) return float32, and the next op casts again. Both keep the "
        "variables in float32; the losses are computed in float32 in both. A framework may lack a "
        "bfloat16 kernel on a given machine (torch's LSTM on a CPU without AVX-512): that model is "
        "then reported as not run, with the framework's reason."
    ),
    fix="keras.config.set_dtype_policy('mixed_bfloat16')  # ≈ with torch.autocast('cuda', dtype=torch.bfloat16): ...",
    summary=(
        "from the same weights, in {compared}: float32 out of torch.autocast: {torch_float32_kinds}; out of "
        "Keras mixed_bfloat16: {keras_float32_kinds}; the two frameworks' bf16 logits lie at most "
        "{largest_relative_logit_diff:.1%} of the largest logit apart (tolerance {tolerance:.0%}). "
        "Not run on this machine: {not_run}"
    ),
)
def bf16_compute(images: np.ndarray, models: list[str] | None = None) -> dict:
    """For each of `models` (a comparison's; by default every model of the catalog), from the same
    weights: which kinds of layer return bfloat16 and which float32 under Keras' mixed_bfloat16
    policy and under torch.autocast, and how far the two frameworks' bf16 logits lie apart; or,
    where a framework cannot compute the model in bfloat16 here, its reason."""
    return bf16_across_models(images, list(models or MODELS))
