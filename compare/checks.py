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

import copy
import math

import keras
import numpy as np
import torch
import torch.nn.functional as F

from compare.datasets import load_sample, unit_interval
from compare.keras_recipes import add_l2, learning_rate
from compare.port_keras import keras_to_state, state_to_keras
from compare.port_torch import torch_to_state
from compare.registry import ADAM_EPSILON, MODELS
from compare.torch_recipes import is_kernel, l2_penalty
from compare.weights import max_abs_diff
from keras_models.augment import RandomShiftRotate as KerasShiftRotate
from torch_models.augment import RandomShiftRotate as TorchShiftRotate

LOGIT_TOLERANCE = 1e-4
UPDATE_TOLERANCE = 1e-2  # of the largest single-weight update
LEARNING_RATE = 1e-3
SGD_LEARNING_RATE = 0.1
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
        "sgd": (
            keras.optimizers.SGD(SGD_LEARNING_RATE),
            torch.optim.SGD(torch_model.parameters(), lr=SGD_LEARNING_RATE),
        ),
        "adam": (
            keras.optimizers.Adam(LEARNING_RATE, epsilon=ADAM_EPSILON),
            torch.optim.Adam(torch_model.parameters(), lr=LEARNING_RATE, eps=ADAM_EPSILON),
        ),
    }[optimizer]
    keras_model.compile(
        optimizer=keras_optimizer, jit_compile="auto", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
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
        result["lstm_summed_bias_step_ratio_torch_over_keras"] = float(
            np.median(summed_bias_step(after_torch, before) / summed_bias_step(after_keras, before))
        )
    if stats:
        means = [k for k in stats if k.endswith("running_mean")]
        variances = [k for k in stats if k.endswith("running_var")]
        result["bn_running_mean_max_abs_diff"] = max(max_abs_diff(after_keras[k], after_torch[k]) for k in means)
        # torch updates running_var with the unbiased batch variance (×n/(n−1)),
        # Keras with the biased one: a small, real difference, reported as measured.
        result["bn_running_var_max_rel_diff"] = max(
            float(np.max(np.abs(after_keras[k] / after_torch[k] - 1))) for k in variances
        )
    _, _, adam_keras, adam_torch, _ = one_step(name, images, labels, seed, "adam")
    result["adam_max_abs_weight_diff"] = max(max_abs_diff(adam_keras[k], adam_torch[k]) for k in weights)
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
        "torch_num_batches_tracked": sum(
            1 for n, _ in torch_model.named_buffers() if n.endswith("num_batches_tracked")
        ),
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
        math.prod(w.shape) for w in keras_model.lstm.weights
    )
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
            f"{float(linear.weight.detach().std()):.4f} (kaiming_uniform(a=√5)); "
            "default-initialized MLPs start at loss "
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
        [(keras.ops.convert_to_tensor(gradient), keras_weight)]
    )
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
    measured = {
        "keras_backend": backend,
        "keras_fit_jit_compile_auto": bool(model.jit_compile),
        "torch_matmul_allow_tf32_default": torch.backends.cuda.matmul.allow_tf32,
    }
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
            + (
                f"; JAX's default matmul precision: {measured['jax_default_matmul_precision']} (TF32 on Ampere+ GPUs)"
                if backend == "jax"
                else ""
            )
        ),
    }


# ---- The regularization lesson: the same words, sometimes different updates. ----


def torch_sgd_step(model: torch.nn.Module, images: np.ndarray, labels: np.ndarray, kernel_decay: float) -> dict:
    """One SGD step of a copy of `model`, with `weight_decay` on its kernels only."""
    model = copy.deepcopy(model).train()
    kernels = [p for n, p in model.named_parameters() if is_kernel(n, p)]
    others = [p for n, p in model.named_parameters() if not is_kernel(n, p)]
    optimizer = torch.optim.SGD(
        [{"params": kernels, "weight_decay": kernel_decay}, {"params": others, "weight_decay": 0.0}],
        lr=SGD_LEARNING_RATE,
    )
    F.cross_entropy(model(nchw(images)), torch.from_numpy(labels)).backward()
    optimizer.step()
    return torch_to_state(model)


def l2_penalty_vs_sgd_weight_decay(images: np.ndarray, labels: np.ndarray) -> dict:
    """Keras' L2(λ) in the loss against torch SGD's weight_decay, one step from the same weights."""
    l2 = 1e-3
    keras_model, torch_model = twins("mlp", seed=0, dropout_rate=0.0)
    add_l2(keras_model, l2)
    keras_penalty = float(sum(to_numpy(loss) for loss in keras_model.losses))
    with torch.no_grad():
        torch_penalty = float(l2_penalty(torch_model, l2))
    keras_model.compile(
        optimizer=keras.optimizers.SGD(SGD_LEARNING_RATE),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    keras_model.train_on_batch(images[..., None], labels)
    after_keras = keras_to_state(keras_model)
    plain, decay_l2, decay_2l2 = (torch_sgd_step(torch_model, images, labels, wd) for wd in (0.0, l2, 2 * l2))
    kernels = [n for n, p in torch_model.named_parameters() if is_kernel(n, p)]
    # The penalty's share of each kernel update: the step with it minus the step without.
    keras_share = np.concatenate([(after_keras[k] - plain[k]).ravel() for k in kernels])
    torch_share = np.concatenate([(decay_l2[k] - plain[k]).ravel() for k in kernels])
    visible = np.abs(torch_share) > 1e-3 * np.abs(torch_share).max()
    factor = float(np.median(keras_share[visible] / torch_share[visible]))
    largest_share = float(np.abs(keras_share).max())
    diff_2l2 = max(max_abs_diff(after_keras[k], decay_2l2[k]) for k in after_keras)
    diff_l2 = max(max_abs_diff(after_keras[k], decay_l2[k]) for k in after_keras)
    return {
        "measured": {
            "l2": l2,
            "keras_penalty": keras_penalty,
            "torch_penalty": torch_penalty,
            "keras_penalty_step_over_torch_weight_decay_step": factor,
            "max_abs_weight_diff_vs_weight_decay_2l2": diff_2l2,
            "max_abs_weight_diff_vs_weight_decay_l2": diff_l2,
            "largest_penalty_share_of_update": largest_share,
        },
        "summary": (
            f"MLP, λ = {l2:g}: the penalty λΣw² is {keras_penalty:.5f} in Keras' model.losses and {torch_penalty:.5f} "
            f"computed in torch; after one SGD step (lr {SGD_LEARNING_RATE:g}) the penalty moves each kernel weight "
            f"{factor:.3f}× as far as torch's SGD(weight_decay=λ) does, because d(λw²)/dw = 2λw; with "
            f"weight_decay=2λ the weights match to {diff_2l2:.1e} (with weight_decay=λ they are off by "
            f"{diff_l2:.1e}, the largest penalty share being {largest_share:.1e})"
        ),
    }


def adam_weight_decay() -> dict:
    """The same `weight_decay=0.01` in Keras' Adam, torch's Adam and torch's AdamW: first step."""
    learning_rate, weight_decay = 1e-3, 0.01
    gradient = np.array([0.0, 1e-3, 1.0], np.float32)
    updates = {}
    for label, optimizer_class in (("torch_adam", torch.optim.Adam), ("torch_adamw", torch.optim.AdamW)):
        weight = torch.ones(3, requires_grad=True)
        optimizer = optimizer_class([weight], lr=learning_rate, eps=ADAM_EPSILON, weight_decay=weight_decay)
        weight.grad = torch.from_numpy(gradient)
        optimizer.step()
        updates[label] = (1 - weight.detach().numpy()).tolist()
    keras_weight = keras.Variable(np.ones(3, np.float32))
    keras.optimizers.Adam(learning_rate, epsilon=ADAM_EPSILON, weight_decay=weight_decay).apply_gradients(
        [(keras.ops.convert_to_tensor(gradient), keras_weight)]
    )
    updates["keras_adam"] = (1 - to_numpy(keras_weight)).tolist()
    keras_vs_adamw = float(np.max(np.abs(np.subtract(updates["keras_adam"], updates["torch_adamw"]))))
    return {
        "measured": {
            "gradient": gradient.tolist(),
            "weight_before": 1.0,
            "learning_rate": learning_rate,
            "weight_decay": weight_decay,
            **updates,
            "keras_adam_vs_torch_adamw_max_abs_diff": keras_vs_adamw,
        },
        "summary": (
            f"weights at 1.0, lr {learning_rate:g}, weight_decay {weight_decay:g}, first step: a weight with zero "
            f"gradient moves {updates['keras_adam'][0]:.2e} with keras.optimizers.Adam, "
            f"{updates['torch_adamw'][0]:.2e} "
            f"with torch.optim.AdamW (both decoupled: lr·wd·w) "
            f"but {updates['torch_adam'][0]:.2e} with torch.optim.Adam "
            f"(wd·w is added to the gradient, then normalized by Adam into a full-size step); with gradient 1 the "
            f"moves are {updates['keras_adam'][2]:.3e}, {updates['torch_adamw'][2]:.3e} "
            f"and {updates['torch_adam'][2]:.3e}; "
            f"Keras' Adam matches AdamW to {keras_vs_adamw:.1e}"
        ),
    }


def dropout_scaling() -> dict:
    """Keras Dropout and torch nn.Dropout on a tensor of ones, training and inference."""
    rate, ones = 0.5, np.ones(100_000, np.float32)
    keras_dropout = keras.layers.Dropout(rate)
    keras_train = to_numpy(keras_dropout(ones, training=True))
    keras_infer = to_numpy(keras_dropout(ones))  # training defaults to inference in a direct call
    torch_dropout = torch.nn.Dropout(rate)  # modules start in training mode
    torch_train = torch_dropout(torch.from_numpy(ones)).numpy()
    torch_infer = torch_dropout.eval()(torch.from_numpy(ones)).numpy()
    measured = {}
    for name, train, infer in (("keras", keras_train, keras_infer), ("torch", torch_train, torch_infer)):
        kept = train[train != 0]
        measured[f"{name}_kept_fraction"] = float(kept.size / train.size)
        measured[f"{name}_kept_values"] = sorted({float(v) for v in np.unique(kept)})
        measured[f"{name}_training_mean"] = float(train.mean())
        measured[f"{name}_inference_max_abs_change"] = float(np.abs(infer - ones).max())
    return {
        "measured": {"rate": rate, **measured},
        "summary": (
            f"rate {rate} on 100,000 ones in training: Keras keeps {measured['keras_kept_fraction']:.1%} at "
            f"{measured['keras_kept_values']}, torch {measured['torch_kept_fraction']:.1%} at "
            f"{measured['torch_kept_values']} (both inverted dropout: means {measured['keras_training_mean']:.3f} "
            f"and {measured['torch_training_mean']:.3f}); at inference both are the identity (largest change "
            f"{max(measured['keras_inference_max_abs_change'], measured['torch_inference_max_abs_change']):g})"
        ),
    }


def training_mode(images: np.ndarray) -> dict:
    """What `training=` (Keras) and `model.train()`/`.eval()` (torch) do to Dropout and BatchNorm."""
    batch = images[..., None]  # (B, 28, 28, 1)
    keras_mlp, torch_mlp = twins("mlp", seed=0, dropout_rate=0.5)
    keras_default_diff = max_abs_diff(to_numpy(keras_mlp(batch)), to_numpy(keras_mlp(batch)))
    keras_training_diff = max_abs_diff(
        to_numpy(keras_mlp(batch, training=True)), to_numpy(keras_mlp(batch, training=True))
    )
    with torch.no_grad():
        torch_starts_training = torch_mlp.training
        torch_default_diff = max_abs_diff(torch_mlp(nchw(images)).numpy(), torch_mlp(nchw(images)).numpy())
        torch_mlp.eval()
        torch_eval_diff = max_abs_diff(torch_mlp(nchw(images)).numpy(), torch_mlp(nchw(images)).numpy())

    def keras_moving_mean_change(bn: keras.layers.BatchNormalization, **call) -> float:
        before = to_numpy(bn.moving_mean).copy()
        bn(batch, **call)
        return float(np.abs(to_numpy(bn.moving_mean) - before).max())

    def torch_running_mean_change(bn: torch.nn.BatchNorm2d) -> float:
        before = bn.running_mean.clone()
        with torch.no_grad():  # no gradients, yet training mode still updates the statistics
            bn(nchw(images))
        return float((bn.running_mean - before).abs().max())

    keras_bn = keras.layers.BatchNormalization()
    keras_bn.build(batch.shape)
    frozen_keras_bn = keras.layers.BatchNormalization()
    frozen_keras_bn.build(batch.shape)
    frozen_keras_bn.trainable = False  # Keras: also switches the layer to inference mode
    frozen_torch_bn = torch.nn.BatchNorm2d(1).requires_grad_(False)  # torch: mode unchanged
    measured = {
        "keras_call_without_training_max_abs_diff_between_calls": keras_default_diff,
        "keras_training_true_max_abs_diff_between_calls": keras_training_diff,
        "torch_module_starts_in_training_mode": torch_starts_training,
        "torch_default_max_abs_diff_between_calls": torch_default_diff,
        "torch_eval_max_abs_diff_between_calls": torch_eval_diff,
        "keras_bn_moving_mean_change_call_without_training": keras_moving_mean_change(keras_bn),
        "keras_bn_moving_mean_change_training_true": keras_moving_mean_change(keras_bn, training=True),
        "keras_bn_trainable_false_moving_mean_change_training_true": keras_moving_mean_change(
            frozen_keras_bn, training=True
        ),
        "torch_bn_running_mean_change_train_mode_no_grad": torch_running_mean_change(torch.nn.BatchNorm2d(1)),
        "torch_bn_requires_grad_false_running_mean_change": torch_running_mean_change(frozen_torch_bn),
    }
    return {
        "measured": measured,
        "summary": (
            f"MLP with dropout 0.5, two calls on the same batch: Keras `model(x)` differs by {keras_default_diff:g} "
            f"(a direct call is inference unless training=True; with it, {keras_training_diff:.2f}); a new torch "
            f"module is in training mode ({torch_starts_training}) and differs by {torch_default_diff:.2f} until "
            f".eval() ({torch_eval_diff:g}). BatchNorm on a batch: Keras' moving mean moves "
            f"{measured['keras_bn_moving_mean_change_call_without_training']:g} without training=True and "
            f"{measured['keras_bn_moving_mean_change_training_true']:.4f} with it, but "
            f"{measured['keras_bn_trainable_false_moving_mean_change_training_true']:g} once trainable=False; torch's "
            f"running mean moves {measured['torch_bn_running_mean_change_train_mode_no_grad']:.4f} in train mode even "
            f"under no_grad, and {measured['torch_bn_requires_grad_false_running_mean_change']:.4f} with "
            f"requires_grad_(False)"
        ),
    }


def orientation_and_centroid(images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per image (B, H, W): centroid x and y in pixels from the centre, and the
    orientation of the intensity's principal axis in degrees."""
    height, width = images.shape[1:]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    mass = images.sum(axis=(1, 2))
    cx = (images * xs).sum(axis=(1, 2)) / mass
    cy = (images * ys).sum(axis=(1, 2)) / mass
    dx, dy = xs[None] - cx[:, None, None], ys[None] - cy[:, None, None]
    mu20, mu02, mu11 = ((images * d).sum(axis=(1, 2)) / mass for d in (dx * dx, dy * dy, dx * dy))
    angle = 0.5 * np.degrees(np.arctan2(2 * mu11, mu20 - mu02))
    return cx - (width - 1) / 2, cy - (height - 1) / 2, angle


def augmentation_distribution(samples: int = 1000) -> dict:
    """Both RandomShiftRotate twins on copies of one horizontal bar: the spread of
    its centroid (the shifts) and of its orientation (the rotations)."""
    bar = np.zeros((28, 28), np.float32)
    bar[13:15, 6:22] = 1.0  # centred, 16 px long: its angle is well defined
    copies = np.repeat(bar[None], samples, axis=0)
    keras_augment = KerasShiftRotate()
    # Build on two images first: on the torch backend a first call on 1,000 images took
    # 71 s here (later calls 1.7 s); on two, 0.15 s.
    keras_augment(copies[:2, ..., None], training=True)
    keras_out = to_numpy(keras_augment(copies[..., None], training=True))[..., 0]
    torch_out = TorchShiftRotate().train()(nchw(copies))[:, 0].numpy()
    measured = {
        "samples": samples,
        "uniform_shift_std_px": 0.1 * 28 / math.sqrt(3),
        "uniform_angle_std_deg": 10 / math.sqrt(3),
    }
    for name, out in (("keras", keras_out), ("torch", torch_out)):
        cx, cy, angle = orientation_and_centroid(out)
        measured.update(
            {
                f"{name}_shift_x_std_px": float(cx.std()),
                f"{name}_shift_y_std_px": float(cy.std()),
                f"{name}_angle_std_deg": float(angle.std()),
                f"{name}_angle_mean_deg": float(angle.mean()),
                f"{name}_mass_ratio_mean": float(out.sum(axis=(1, 2)).mean() / bar.sum()),
            }
        )
    return {
        "measured": measured,
        "summary": (
            f"{samples} augmented copies of a bar: centroid spread (x, y) {measured['keras_shift_x_std_px']:.2f}, "
            f"{measured['keras_shift_y_std_px']:.2f} px in Keras and {measured['torch_shift_x_std_px']:.2f}, "
            f"{measured['torch_shift_y_std_px']:.2f} px in torch (uniform ±10% of 28 px: "
            f"{measured['uniform_shift_std_px']:.2f}); angle spread {measured['keras_angle_std_deg']:.2f}° and "
            f"{measured['torch_angle_std_deg']:.2f}° (uniform ±10°: {measured['uniform_angle_std_deg']:.2f}°); "
            f"intensity kept {measured['keras_mass_ratio_mean']:.3f} and {measured['torch_mass_ratio_mean']:.3f}"
        ),
    }


# ---- Schedules and precision: what the same setting does step by step. ----

SCHEDULE_EPOCHS = 3  # the default preset's MLP budget on the shipped sample
SCHEDULE_BATCH = 64
SCHEDULE_PEAK_RATE = 2e-3


def keras_schedule_rates(total_steps: int) -> dict[int, float]:
    """Keras' warm-up + cosine schedule (compare.keras_recipes) at steps across the run."""
    schedule = learning_rate("warmup-cosine", SCHEDULE_PEAK_RATE, total_steps)
    # One scalar step per call (its cond does not vectorize); on JAX each call traces, so every 13th.
    return {step: float(to_numpy(schedule(step))) for step in [*range(0, total_steps, 13), total_steps - 1]}


def torch_mlp_accuracy(data, steps_per_epoch: int, per_epoch: bool) -> tuple[list[float], float]:
    """The torch MLP trained for the default budget with a LambdaLR written in steps,
    stepped after every batch or, as many tutorials do, once per epoch. Returns the
    rate of every step and the test accuracy."""
    from compare.registry import learning_rate_factor

    torch.manual_seed(0)
    model = MODELS["mlp"].torch_class()()
    optimizer = torch.optim.Adam(model.parameters(), lr=SCHEDULE_PEAK_RATE, eps=ADAM_EPSILON)
    total = SCHEDULE_EPOCHS * steps_per_epoch
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: learning_rate_factor(step, total, "warmup-cosine")
    )
    images = nchw(unit_interval(data.x_train))
    labels = torch.from_numpy(data.y_train.astype(np.int64))
    rates = []
    for epoch in range(SCHEDULE_EPOCHS):
        order = torch.from_numpy(np.random.default_rng([0, epoch]).permutation(len(labels)))
        for rows in order.split(SCHEDULE_BATCH)[:steps_per_epoch]:
            rates.append(optimizer.param_groups[0]["lr"])
            optimizer.zero_grad()
            F.cross_entropy(model(images[rows]), labels[rows]).backward()
            optimizer.step()
            if not per_epoch:
                scheduler.step()
        if per_epoch:
            scheduler.step()
    with torch.no_grad():
        predicted = model.eval()(nchw(unit_interval(data.x_test))).argmax(1).numpy()
    return rates, float((predicted == data.y_test).mean())


def scheduler_stepped_per_epoch() -> dict:
    """A schedule written in optimizer steps: Keras reads it at every step; a torch
    scheduler stepped once per epoch holds each epoch at one rate."""
    data = load_sample()
    steps_per_epoch = len(data.y_train) // SCHEDULE_BATCH
    keras_rates = keras_schedule_rates(SCHEDULE_EPOCHS * steps_per_epoch)
    per_step, per_step_accuracy = torch_mlp_accuracy(data, steps_per_epoch, per_epoch=False)
    per_epoch, per_epoch_accuracy = torch_mlp_accuracy(data, steps_per_epoch, per_epoch=True)
    at = list(keras_rates)
    keras_at = np.array(list(keras_rates.values()))
    measured = {
        "steps": len(per_step),
        "steps_compared": len(at),
        "max_abs_rate_diff_keras_vs_torch_per_step": float(np.abs(keras_at - np.array(per_step)[at]).max()),
        "max_abs_rate_diff_keras_vs_torch_per_epoch": float(np.abs(keras_at - np.array(per_epoch)[at]).max()),
        "steps_at_rate_0_per_epoch": int((np.array(per_epoch) == 0).sum()),
        "torch_test_accuracy_stepped_per_step": per_step_accuracy,
        "torch_test_accuracy_stepped_per_epoch": per_epoch_accuracy,
    }
    return {
        "measured": measured,
        "summary": (
            f"warm-up + cosine over {measured['steps']} steps (the MLP's default budget): torch's LambdaLR stepped "
            f"per batch follows Keras' schedule to {measured['max_abs_rate_diff_keras_vs_torch_per_step']:.1e}; "
            f"stepped once per epoch it trains {measured['steps_at_rate_0_per_epoch']} steps (the whole first epoch) "
            f"at rate 0 and ends {SCHEDULE_EPOCHS} epochs at "
            f"{per_epoch_accuracy:.1%} test accuracy instead of {per_step_accuracy:.1%}"
        ),
    }


def torch_output_dtypes(model: torch.nn.Module, images: torch.Tensor) -> list[tuple[str, str]]:
    """(kind of module, dtype it returned) for each leaf module, in one bf16-autocast forward pass."""
    seen: list[tuple[str, str]] = []

    def note(module: torch.nn.Module, output) -> None:  # returns None: the output is left as it is
        seen.append((type(module).__name__, str((output[0] if isinstance(output, tuple) else output).dtype)[6:]))

    hooks = [
        module.register_forward_hook(lambda module, inputs, output: note(module, output))
        for module in model.modules()
        if not list(module.children())
    ]
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        model(images)
    for hook in hooks:
        hook.remove()
    return seen


def keras_output_dtypes(model: keras.Model, images: np.ndarray) -> list[tuple[str, str]]:
    """(kind of layer, dtype it returned) for each leaf layer, in one forward pass."""
    seen: list[tuple[str, str]] = []
    leaves = [
        layer
        for layer in model._flatten_layers(include_self=False)
        if not list(layer._flatten_layers(include_self=False))
    ]

    def traced(layer: keras.Layer):
        call, kind = layer.call, type(layer).__name__

        def call_and_note(*args, **kwargs):
            output = call(*args, **kwargs)
            first = output[0] if isinstance(output, tuple) else output
            seen.append((kind, keras.backend.standardize_dtype(first.dtype)))
            return output

        return call_and_note

    for layer in leaves:
        object.__setattr__(layer, "call", traced(layer))  # an instance attribute, past Keras' tracking
    model(images, training=False)
    for layer in leaves:
        object.__delattr__(layer, "call")
    return seen


def kinds_returning(dtype: str, seen: list[tuple[str, str]]) -> list[str]:
    return sorted({kind for kind, returned in seen if returned == dtype})


# bf16 keeps 8 significant bits: each rounding is off by up to 2^-9 ≈ 0.2% of its value.
# The two frameworks round at different places (per layer against per op), and the
# differences compound over the layers: 3% of the logits' largest magnitude allows
# about 15 such roundings in a row; a wrong port is off by the logits themselves.
BF16_RELATIVE_TOLERANCE = 0.03


def bf16_compute(images: np.ndarray) -> dict:
    """For each model, from the same weights: which kinds of layer return bfloat16 and
    which float32 under Keras' mixed_bfloat16 policy and under torch.autocast, and how
    far the two frameworks' bf16 logits lie apart."""
    measured = {}
    previous = keras.config.dtype_policy()
    for name in MODELS:
        keras.config.set_dtype_policy("mixed_bfloat16")
        try:
            keras_model, torch_model = twins(name, seed=0)  # the Keras twin built under the policy
            keras_seen = keras_output_dtypes(keras_model, images[..., None])
            received = to_numpy(keras_model(images[..., None], training=False)).astype(np.float32)
        finally:
            keras.config.set_dtype_policy(previous)
        torch_seen = torch_output_dtypes(torch_model.eval(), nchw(images))
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            expected = torch_model(nchw(images)).float().numpy()
        diff = max_abs_diff(expected, received)
        scale = float(np.abs(expected).max())
        measured[name] = {
            **{
                f"{framework}_{dtype}": kinds_returning(dtype, seen)
                for framework, seen in (("torch", torch_seen), ("keras", keras_seen))
                for dtype in ("float32", "bfloat16")
            },
            "logit_max_abs_diff": diff,
            "logit_max_abs": scale,
            "passed": diff <= BF16_RELATIVE_TOLERANCE * scale,
        }
    return {
        "measured": measured,
        "summary": "; ".join(
            f"{name}: float32 out of torch.autocast: {', '.join(m['torch_float32']) or 'none'}; "
            f"out of Keras mixed_bfloat16: {', '.join(m['keras_float32']) or 'none'}; bf16 logits "
            f"{m['logit_max_abs_diff']:.2g} apart ({m['logit_max_abs_diff'] / m['logit_max_abs']:.1%} of the largest, "
            f"tolerance {BF16_RELATIVE_TOLERANCE:.0%})"
            for name, m in measured.items()
        ),
    }
