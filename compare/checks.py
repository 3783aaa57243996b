"""Executed checks: twin parity and each framework difference, as measured numbers.

Runs inside a process whose KERAS_BACKEND is set (`python -m compare.check_worker`);
imports Keras and torch both. Every check returns plain numbers and text, so the
report's "Parity" and "Framework differences" sections are generated, never
hand-written.

Float32 tolerances. Same weights and inputs through different kernels (oneDNN,
Eigen, XLA) differ by the order of their float32 sums: about 1e-7 relative per
operation, compounding through ~20 layers to ~1e-6 of logits of order 1–10. The
checks allow max |Δ| ≤ 1e-4 on logits and losses (TF32 is off on the CPU, where
these run). After one SGD step the weights may differ by 1% of the largest
update. The models without BatchNorm agree to ~1e-6 of it; in ResNetV2,
BatchNorm's backward pass subtracts two nearly equal per-channel sums over
B·H·W values, so the weights feeding a BatchNorm get gradients with large
relative rounding: measured up to 5e-4 of the largest update on the JAX and
torch backends and 6e-3 on TensorFlow's CPU kernels (with or without oneDNN).
A layout mistake is off by the whole update.
Adam is measured but not held to it: Keras adds epsilon
before Adam's bias correction, torch after, so tiny gradients take different
steps (see the Adam difference).
"""

from __future__ import annotations

import math

import keras
import numpy as np
import torch
import torch.nn.functional as F

from compare.port_keras import keras_to_state, state_to_keras
from compare.port_torch import torch_to_state
from compare.registry import MODELS
from compare.weights import max_abs_diff

LOGIT_TOLERANCE = 1e-4
UPDATE_TOLERANCE = 1e-2  # of the largest single-weight update
LEARNING_RATE = 1e-3
SGD_LEARNING_RATE = 0.1
ADAM_EPSILON = 1e-8
# Dropout is random in each framework in its own way: off for the training checks.
NO_DROPOUT = {"mlp": {"dropout_rate": 0.0}, "transformer": {"dropout_rate": 0.0}}


def to_numpy(x) -> np.ndarray:
    return keras.ops.convert_to_numpy(x)


def twins(name: str, seed: int, **kwargs) -> tuple[keras.Model, torch.nn.Module]:
    """The torch twin, initialized from `seed`, and a Keras twin holding the same weights."""
    torch.manual_seed(seed)
    torch_model = MODELS[name].torch_class()(**kwargs)
    keras_model = MODELS[name].keras_class()(**kwargs)
    keras_model.build((None, 28, 28, 1))
    state_to_keras(torch_to_state(torch_model), keras_model)
    return keras_model, torch_model


def nchw(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images)[:, None]  # (B, 28, 28) → (B, 1, 28, 28)


def inference_parity(name: str, images: np.ndarray, seed: int = 0) -> dict:
    keras_model, torch_model = twins(name, seed)
    with torch.no_grad():
        expected = torch_model.eval()(nchw(images)).numpy()
    received = to_numpy(keras_model.predict_on_batch(images[..., None]))  # compiled: quicker here than eager
    diff = max_abs_diff(expected, received)
    return {"max_abs_logit_diff": diff, "tolerance": LOGIT_TOLERANCE, "passed": diff <= LOGIT_TOLERANCE}


def one_step(name: str, images: np.ndarray, labels: np.ndarray, seed: int, optimizer: str) -> tuple:
    """One training step of both twins from the same weights on the same batch.

    Returns (Keras loss, torch loss, Keras weights after, torch weights after,
    torch weights before), weights as state dicts in torch layout.
    """
    keras_model, torch_model = twins(name, seed, **NO_DROPOUT.get(name, {}))
    before = torch_to_state(torch_model)
    keras_optimizer, torch_optimizer = {
        "sgd": (keras.optimizers.SGD(SGD_LEARNING_RATE),
                torch.optim.SGD(torch_model.parameters(), lr=SGD_LEARNING_RATE)),
        "adam": (keras.optimizers.Adam(LEARNING_RATE, epsilon=ADAM_EPSILON),
                 torch.optim.Adam(torch_model.parameters(), lr=LEARNING_RATE, eps=ADAM_EPSILON)),
    }[optimizer]
    keras_model.compile(optimizer=keras_optimizer, jit_compile="auto",
                        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    keras_loss = float(keras_model.train_on_batch(images[..., None], labels))  # loss before the update

    torch_model.train()
    loss = F.cross_entropy(torch_model(nchw(images)), torch.from_numpy(labels))
    loss.backward()
    torch_optimizer.step()
    return keras_loss, loss.item(), keras_to_state(keras_model), torch_to_state(torch_model), before


def summed_bias_step(after: dict, before: dict) -> np.ndarray:
    """How far the LSTM's effective bias (bias_ih + bias_hh) moved in one step."""
    keys = ("lstm.bias_ih_l0", "lstm.bias_hh_l0")
    return sum(after[k] for k in keys) - sum(before[k] for k in keys)


def training_parity(name: str, images: np.ndarray, labels: np.ndarray, seed: int = 0) -> dict:
    """One SGD step in training mode (BatchNorm on batch statistics, dropout off):
    same loss, same updated weights, same BatchNorm running statistics. Then one
    Adam step, whose two implementations place epsilon differently."""
    keras_loss, torch_loss, after_keras, after_torch, before = one_step(name, images, labels, seed, "sgd")
    stats = [k for k in after_torch if k.endswith(("running_mean", "running_var"))]
    # torch's two LSTM biases are compared through their sum (the only thing that acts).
    biases = [k for k in after_torch if k.startswith("lstm.bias_")]
    weights = [k for k in after_torch if k not in stats and k not in biases]
    weight_diff = max(max_abs_diff(after_keras[k], after_torch[k]) for k in weights)
    largest_update = max(max_abs_diff(after_torch[k], before[k]) for k in weights)
    loss_diff = abs(keras_loss - torch_loss)
    result = {
        "loss_keras": keras_loss,
        "loss_torch": torch_loss,
        "loss_diff": loss_diff,
        "sgd_max_abs_weight_diff": weight_diff,
        "sgd_largest_update": largest_update,
        "sgd_relative_weight_diff": weight_diff / largest_update,
        "tolerance": UPDATE_TOLERANCE,
        "passed": loss_diff <= LOGIT_TOLERANCE and weight_diff <= UPDATE_TOLERANCE * largest_update,
    }
    if biases:
        # Each torch bias receives the full gradient, so their sum moves twice as far.
        result["lstm_summed_bias_step_ratio_torch_over_keras"] = float(np.median(
            summed_bias_step(after_torch, before) / summed_bias_step(after_keras, before)))
    if stats:
        means = [k for k in stats if k.endswith("running_mean")]
        variances = [k for k in stats if k.endswith("running_var")]
        result["bn_running_mean_max_abs_diff"] = max(max_abs_diff(after_keras[k], after_torch[k]) for k in means)
        # torch updates running_var with the unbiased batch variance (×n/(n−1)),
        # Keras with the biased one: a small, real difference, reported as measured.
        result["bn_running_var_max_rel_diff"] = max(
            float(np.max(np.abs(after_keras[k] / after_torch[k] - 1))) for k in variances)
    _, _, adam_keras, adam_torch, _ = one_step(name, images, labels, seed, "adam")
    result["adam_max_abs_weight_diff"] = max(
        max_abs_diff(adam_keras[k], adam_torch[k]) for k in weights)
    return result


# ---- The framework-differences lesson: one function per difference. ----------
# Each returns {"measured": {...numbers...}, "summary": one line with the numbers}.


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
        "measured": {
            "batch_mean": batch_mean,
            "keras_default_running_mean": keras_mean,
            "torch_default_running_mean": torch_mean,
            "normalized_max_abs_diff_from_epsilon": max_abs_diff(out_keras_eps, out_torch_eps),
        },
        "summary": (
            f"after one step on a batch of mean {batch_mean:.3f}, Keras' default moving mean is "
            f"{keras_mean:.4f} (momentum 0.99 keeps 99% of the old 0), torch's {torch_mean:.4f} "
            f"(momentum 0.1 takes 10% of the batch); on a channel of variance 1e-4 the two default "
            f"epsilons (1e-3 vs 1e-5) change normalized outputs by up to "
            f"{max_abs_diff(out_keras_eps, out_torch_eps):.3f}"
        ),
    }


def parameters_vs_buffers() -> dict:
    keras_model = MODELS["resnet_v2"].keras_class()()
    keras_model.build((None, 28, 28, 1))
    torch_model = MODELS["resnet_v2"].torch_class()()
    counts = {
        "keras_count_params": keras_model.count_params(),
        "keras_trainable": sum(math.prod(w.shape) for w in keras_model.trainable_weights),
        "torch_parameters": sum(p.numel() for p in torch_model.parameters()),
        "torch_float_buffers": sum(b.numel() for b in torch_model.buffers() if b.is_floating_point()),
        "torch_num_batches_tracked": sum(1 for n, _ in torch_model.named_buffers() if n.endswith("num_batches_tracked")),
    }
    return {
        "measured": counts,
        "summary": (
            f"ResNetV2: Keras count_params() = {counts['keras_count_params']:,} "
            f"(trainable {counts['keras_trainable']:,}); torch parameters() = {counts['torch_parameters']:,} "
            f"plus {counts['torch_float_buffers']:,} running statistics in buffers "
            f"(and {counts['torch_num_batches_tracked']} integer step counters)"
        ),
    }


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
        "measured": {
            "same_vs_torch_max_abs_diff": max_abs_diff(out_same, expected),
            "explicit_pad_vs_torch_max_abs_diff": max_abs_diff(out_padded, expected),
            "output_shape_keras": list(out_same.shape),
        },
        "summary": (
            f"same weights, 28×28 input: padding='same' differs from torch's padding=1 by up to "
            f"{max_abs_diff(out_same, expected):.3f} (it pads only bottom/right); ZeroPadding2D(1) + "
            f"'valid' matches to {max_abs_diff(out_padded, expected):.1e}"
        ),
    }


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
        "measured": {
            "keras_shape": list(out_keras.shape),
            "torch_shape": list(out_torch.shape),
            "max_abs_diff_after_transpose": max_abs_diff(out_keras.transpose(0, 3, 1, 2), out_torch),
            "fraction_of_flattened_positions_that_differ": moved,
        },
        "summary": (
            f"Keras output {tuple(out_keras.shape)} vs torch {tuple(out_torch.shape)}: equal to "
            f"{max_abs_diff(out_keras.transpose(0, 3, 1, 2), out_torch):.1e} after transposing, but "
            f"flattened without transposing {moved:.0%} of positions hold a different value (with 4 channels)"
        ),
    }


def lstm_bias_and_gates(images: np.ndarray) -> dict:
    """One bias vs two; gate order i, f, c, o in both; kernel layout transposed."""
    keras_model, torch_model = twins("lstm", seed=0)
    with torch.no_grad():
        expected = torch_model.eval()(nchw(images)).numpy()
    ported = to_numpy(keras_model(images[..., None], training=False))
    # The same weights with Keras' cell and output gates swapped (i, f, o, c):
    cell = keras_model.lstm.cell
    units = cell.units
    def swap(matrix):  # noqa: E306 - columns are [i | f | c | o] blocks of `units`
        i, f, c, o = np.split(to_numpy(matrix), 4, axis=-1)
        return np.concatenate([i, f, o, c], axis=-1)
    for variable in (cell.kernel, cell.recurrent_kernel, cell.bias):
        variable.assign(swap(variable))
    swapped = to_numpy(keras_model(images[..., None], training=False))
    extra = sum(p.numel() for p in torch_model.lstm.parameters()) - sum(
        math.prod(w.shape) for w in keras_model.lstm.weights)
    return {
        "measured": {
            "torch_extra_parameters": extra,
            "ported_max_abs_logit_diff": max_abs_diff(ported, expected),
            "wrong_gate_order_max_abs_logit_diff": max_abs_diff(swapped, expected),
            "keras_kernel_shape": list(cell.kernel.shape),
            "torch_weight_ih_shape": list(torch_model.lstm.weight_ih_l0.shape),
        },
        "summary": (
            f"torch's LSTM has {extra} more parameters (bias_ih + bias_hh = 2×4×{units}); ported weights "
            f"(kernel {tuple(cell.kernel.shape)} = weight_ih{tuple(torch_model.lstm.weight_ih_l0.shape)}ᵀ, "
            f"biases summed) match to {max_abs_diff(ported, expected):.1e}; with the cell and output gates "
            f"swapped the logits are off by {max_abs_diff(swapped, expected):.2f}"
        ),
    }


def dense_layout_and_init(images: np.ndarray, labels: np.ndarray) -> dict:
    """Kernel (in, out) vs weight (out, in); glorot_uniform vs kaiming_uniform(a=√5)."""
    keras.utils.set_random_seed(0)
    torch.manual_seed(0)
    dense = keras.layers.Dense(256)
    dense.build((None, 784))
    linear = torch.nn.Linear(784, 256)
    # Default-initialized MLPs of the same shape, no shared weights: initial loss.
    keras_mlp = keras.Sequential([keras.layers.Dense(256, activation="relu"), keras.layers.Dense(128, activation="relu"),
                                  keras.layers.Dense(10)])
    torch_mlp = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128),
                                    torch.nn.ReLU(), torch.nn.Linear(128, 10))
    flat = images.reshape(len(images), -1)
    keras_loss = float(to_numpy(keras.losses.sparse_categorical_crossentropy(
        labels, keras_mlp(flat), from_logits=True)).mean())
    with torch.no_grad():
        torch_loss = F.cross_entropy(torch_mlp(torch.from_numpy(flat)), torch.from_numpy(labels)).item()
    return {
        "measured": {
            "keras_kernel_shape": list(dense.kernel.shape),
            "torch_weight_shape": list(linear.weight.shape),
            "keras_kernel_std": float(np.std(to_numpy(dense.kernel))),
            "torch_weight_std": float(linear.weight.detach().std()),
            "keras_default_initial_loss": keras_loss,
            "torch_default_initial_loss": torch_loss,
            "chance_loss": math.log(10),
        },
        "summary": (
            f"Dense(256) on 784 inputs: kernel {tuple(dense.kernel.shape)}, std "
            f"{np.std(to_numpy(dense.kernel)):.4f} (glorot_uniform); Linear: weight {tuple(linear.weight.shape)}, std "
            f"{float(linear.weight.detach().std()):.4f} (kaiming_uniform(a=√5)); default-initialized MLPs start at loss "
            f"{keras_loss:.3f} (Keras) and {torch_loss:.3f} (torch), chance is {math.log(10):.3f}"
        ),
    }


def gelu_approximation() -> dict:
    x = np.linspace(-5, 5, 10_001, dtype=np.float32)
    ops_default = to_numpy(keras.ops.gelu(x))  # approximate=True: tanh
    exact = to_numpy(keras.ops.gelu(x, approximate=False))
    activation = to_numpy(keras.activations.gelu(x))  # approximate=False by default
    torch_exact = F.gelu(torch.from_numpy(x)).numpy()
    return {
        "measured": {
            "ops_gelu_default_vs_exact_max_abs_diff": max_abs_diff(ops_default, exact),
            "activations_gelu_vs_torch_max_abs_diff": max_abs_diff(activation, torch_exact),
            "ops_gelu_exact_vs_torch_max_abs_diff": max_abs_diff(exact, torch_exact),
        },
        "summary": (
            f"on [-5, 5], keras.ops.gelu(x) (tanh approximation) differs from the exact GELU by up to "
            f"{max_abs_diff(ops_default, exact):.1e}; keras.activations.gelu and "
            f"keras.ops.gelu(x, approximate=False) match torch's nn.GELU to {max_abs_diff(exact, torch_exact):.1e}"
        ),
    }


def layer_norm_epsilon() -> dict:
    rng = np.random.default_rng(0)
    tokens = (rng.standard_normal((8, 64)) * 0.05).astype(np.float32)  # small activations: variance 2.5e-3
    keras_default = to_numpy(keras.layers.LayerNormalization()(tokens))  # epsilon 1e-3
    torch_default = torch.nn.LayerNorm(64)(torch.from_numpy(tokens)).detach().numpy()  # eps 1e-5
    matched = to_numpy(keras.layers.LayerNormalization(epsilon=1e-5)(tokens))
    return {
        "measured": {
            "default_epsilons_max_abs_diff": max_abs_diff(keras_default, torch_default),
            "matched_epsilon_max_abs_diff": max_abs_diff(matched, torch_default),
        },
        "summary": (
            f"tokens of std 0.05: LayerNormalization() (ε 1e-3) and nn.LayerNorm (ε 1e-5) differ by up to "
            f"{max_abs_diff(keras_default, torch_default):.3f}; with epsilon=1e-5 by "
            f"{max_abs_diff(matched, torch_default):.1e}"
        ),
    }


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
        [(keras.ops.convert_to_tensor(gradient), keras_weight)])
    keras_update = (-to_numpy(keras_weight)).tolist()
    return {
        "measured": {"gradient": gradient.tolist(), **updates, "keras_adam_epsilon_1e-8": keras_update},
        "summary": (
            f"first step, lr 1e-3, gradient 1e-8: torch's Adam moves the weight {updates['torch_default_1e-8'][1]:.2e} "
            f"with its ε = 1e-8 and {updates['keras_default_1e-7'][1]:.2e} with ε = 1e-7; "
            f"keras.optimizers.Adam(epsilon=1e-8) moves it {keras_update[1]:.2e}, because Keras adds ε "
            f"before the bias correction (effectively ε/√(1-β₂ᵗ) = 3.2e-7 at step 1); for large "
            f"gradients all give 1e-3"
        ),
    }


def compile_and_precision_defaults() -> dict:
    model = keras.Sequential([keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")  # jit_compile="auto"
    model.build((None, 3))
    backend = keras.backend.backend()
    measured = {"keras_backend": backend, "keras_fit_jit_compile_auto": bool(model.jit_compile),
                "torch_matmul_allow_tf32_default": torch.backends.cuda.matmul.allow_tf32}
    if backend == "tensorflow":
        import tensorflow as tf
        measured["tensorflow_tf32_enabled_default"] = tf.config.experimental.tensor_float_32_execution_enabled()
    if backend == "jax":
        import jax
        measured["jax_default_matmul_precision"] = str(jax.config.jax_default_matmul_precision)
    return {
        "measured": measured,
        "summary": (
            f"on the {backend} backend, compile(jit_compile='auto') resolves to {bool(model.jit_compile)}; "
            f"torch.compile is opt-in; torch's float32 matmuls use TF32: "
            f"{torch.backends.cuda.matmul.allow_tf32}"
            + (f"; TensorFlow's TF32: {measured['tensorflow_tf32_enabled_default']}" if backend == "tensorflow" else "")
            + (f"; JAX's default matmul precision: {measured['jax_default_matmul_precision']} "
               f"(TF32 on Ampere+ GPUs)" if backend == "jax" else "")
        ),
    }
