"""The regularization lesson's differences: the same words (L2, weight decay, dropout,
training mode, augmentation) and what each framework does with them, one entry each
(compare.lessons.difference), measured on this Keras backend.
"""

from __future__ import annotations

import copy
import math

import keras
import numpy as np
import torch
import torch.nn.functional as F

from compare.catalog.registry import ADAM_EPSILON
from compare.lessons.difference import Difference, difference
from compare.lessons.parity import SGD_LEARNING_RATE, nchw, to_numpy, twins
from compare.porting.port_keras import keras_to_state
from compare.porting.port_torch import torch_to_state
from compare.porting.weights import max_abs_diff
from compare.run.keras_recipes import add_l2
from compare.run.torch_recipes import is_kernel, l2_penalty
from keras_models.augment import RandomShiftRotate as KerasShiftRotate
from torch_models.augment import RandomShiftRotate as TorchShiftRotate

DIFFERENCES: list[Difference] = []  # in the order the report tells them


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


@difference(
    DIFFERENCES,
    "L2 in the loss versus SGD's weight_decay: a factor of two",
    explanation=(
        "Keras' `L2(λ)` adds λΣw² to the loss; its gradient is 2λw. torch's SGD `weight_decay=wd` adds "
        "wd·w to the gradient directly. So the same number means half the decay in torch: "
        "L2(λ) ≡ SGD(weight_decay=2λ). (Applied to kernels only in both, as `kernel_regularizer` is; in "
        "torch that takes two parameter groups.)"
    ),
    fix=(
        "torch.optim.SGD([{'params': kernels, 'weight_decay': 2 * l2}, {'params': others, 'weight_decay': 0}], lr)"
        "  # ≡ Keras kernel_regularizer=L2(l2)"
    ),
    summary=(
        "MLP, λ = {l2:g}: the penalty λΣw² is {keras_penalty:.5f} in Keras' model.losses and {torch_penalty:.5f} "
        "computed in torch; after one SGD step (lr {sgd_learning_rate:g}) the penalty moves each kernel weight "
        "{keras_penalty_step_over_torch_weight_decay_step:.3f}× as far as torch's SGD(weight_decay=λ) does, because "
        "d(λw²)/dw = 2λw; with weight_decay=2λ the weights match to {max_abs_weight_diff_vs_weight_decay_2l2:.1e} "
        "(with weight_decay=λ they are off by {max_abs_weight_diff_vs_weight_decay_l2:.1e}, the largest penalty "
        "share being {largest_penalty_share_of_update:.1e})"
    ),
)
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
        "l2": l2,
        "sgd_learning_rate": SGD_LEARNING_RATE,
        "keras_penalty": keras_penalty,
        "torch_penalty": torch_penalty,
        "keras_penalty_step_over_torch_weight_decay_step": factor,
        "max_abs_weight_diff_vs_weight_decay_2l2": diff_2l2,
        "max_abs_weight_diff_vs_weight_decay_l2": diff_l2,
        "largest_penalty_share_of_update": largest_share,
    }


@difference(
    DIFFERENCES,
    "Adam's `weight_decay`: decoupled in Keras, coupled in torch",
    explanation=(
        "Both Adams take `weight_decay`, with different updates. Keras optimizers apply it decoupled, "
        "w ← w − lr·wd·w before the Adam step, exactly as torch's AdamW. torch's `Adam(weight_decay=wd)` "
        "adds wd·w to the gradient, which Adam then divides by its running RMS: an L2 penalty whose "
        "strength adapts per weight, so weights with small gradients are decayed far harder."
    ),
    fix=(
        "torch.optim.AdamW(params, lr, eps=1e-8, weight_decay=wd)"
        "  # ≡ keras.optimizers.Adam(lr, epsilon=1e-8, weight_decay=wd)"
    ),
    summary=(
        "weights at 1.0, lr {learning_rate:g}, weight_decay {weight_decay:g}, first step: a weight with zero "
        "gradient moves {keras_adam[0]:.2e} with keras.optimizers.Adam, {torch_adamw[0]:.2e} with "
        "torch.optim.AdamW (both decoupled: lr·wd·w) but {torch_adam[0]:.2e} with torch.optim.Adam (wd·w is "
        "added to the gradient, then normalized by Adam into a full-size step); with gradient 1 the moves are "
        "{keras_adam[2]:.3e}, {torch_adamw[2]:.3e} and {torch_adam[2]:.3e}; Keras' Adam matches AdamW to "
        "{keras_adam_vs_torch_adamw_max_abs_diff:.1e}"
    ),
)
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
        "gradient": gradient.tolist(),
        "weight_before": 1.0,
        "learning_rate": learning_rate,
        "weight_decay": weight_decay,
        **updates,
        "keras_adam_vs_torch_adamw_max_abs_diff": keras_vs_adamw,
    }


@difference(
    DIFFERENCES,
    "Dropout: inverted in both",
    explanation=(
        "Both frameworks use inverted dropout: in training a unit is zeroed with probability `rate` and "
        "the survivors are scaled by 1/(1 − rate), so the expected activation is unchanged and inference "
        "is the identity. Nothing to convert; only the switch differs (next)."
    ),
    fix="keras.layers.Dropout(rate) ≡ torch.nn.Dropout(rate)",
    summary=(
        "rate {rate} on 100,000 ones in training: Keras keeps {keras_kept_fraction:.1%} at {keras_kept_values}, "
        "torch {torch_kept_fraction:.1%} at {torch_kept_values} (both inverted dropout: means "
        "{keras_training_mean:.3f} and {torch_training_mean:.3f}); at inference both are the identity (largest "
        "changes {keras_inference_max_abs_change:g} and {torch_inference_max_abs_change:g})"
    ),
)
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
    return {"rate": rate, **measured}


@difference(
    DIFFERENCES,
    "Training mode: an argument in Keras, a module state in torch",
    explanation=(
        "Keras passes `training=` down each call: `fit` uses training=True, `evaluate`/`predict` and a "
        "direct `model(x)` use inference. A torch module carries a mode: it starts in training mode and "
        "stays there until `.eval()`, so forgetting it evaluates with dropout on and BatchNorm updating "
        "its running statistics, even under `torch.no_grad()`. Freezing differs too: Keras' "
        "`layer.trainable = False` also puts BatchNorm in inference mode; torch's `requires_grad_(False)` "
        "does not change the mode."
    ),
    fix="model.eval()  # before evaluating in torch; bn.eval() to freeze BatchNorm statistics like trainable=False",
    summary=(
        "MLP with dropout 0.5, two calls on the same batch: Keras `model(x)` differs by "
        "{keras_call_without_training_max_abs_diff_between_calls:g} (a direct call is inference unless "
        "training=True; with it, {keras_training_true_max_abs_diff_between_calls:.2f}); a new torch module is in "
        "training mode ({torch_module_starts_in_training_mode}) and differs by "
        "{torch_default_max_abs_diff_between_calls:.2f} until .eval() ({torch_eval_max_abs_diff_between_calls:g}). "
        "BatchNorm on a batch: Keras' moving mean moves {keras_bn_moving_mean_change_call_without_training:g} "
        "without training=True and {keras_bn_moving_mean_change_training_true:.4f} with it, but "
        "{keras_bn_trainable_false_moving_mean_change_training_true:g} once trainable=False; torch's running mean "
        "moves {torch_bn_running_mean_change_train_mode_no_grad:.4f} in train mode even under no_grad, and "
        "{torch_bn_requires_grad_false_running_mean_change:.4f} with requires_grad_(False)"
    ),
)
def training_mode(images: np.ndarray) -> dict:
    """What `training=` (Keras) and `model.train()`/`.eval()` (torch) do to Dropout and BatchNorm."""
    return {**dropout_between_calls(images), **batch_norm_statistics(images)}


def dropout_between_calls(images: np.ndarray) -> dict:
    """How far two calls of the MLP (dropout 0.5) differ, in each mode each framework offers."""
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
    return {
        "keras_call_without_training_max_abs_diff_between_calls": keras_default_diff,
        "keras_training_true_max_abs_diff_between_calls": keras_training_diff,
        "torch_module_starts_in_training_mode": torch_starts_training,
        "torch_default_max_abs_diff_between_calls": torch_default_diff,
        "torch_eval_max_abs_diff_between_calls": torch_eval_diff,
    }


def batch_norm_statistics(images: np.ndarray) -> dict:
    """How far BatchNorm's running mean moves on one batch, per mode and per way of freezing it."""
    batch = images[..., None]  # (B, 28, 28, 1)

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
    return {
        "keras_bn_moving_mean_change_call_without_training": keras_moving_mean_change(keras_bn),
        "keras_bn_moving_mean_change_training_true": keras_moving_mean_change(keras_bn, training=True),
        "keras_bn_trainable_false_moving_mean_change_training_true": keras_moving_mean_change(
            frozen_keras_bn, training=True
        ),
        "torch_bn_running_mean_change_train_mode_no_grad": torch_running_mean_change(torch.nn.BatchNorm2d(1)),
        "torch_bn_requires_grad_false_running_mean_change": torch_running_mean_change(frozen_torch_bn),
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


@difference(
    DIFFERENCES,
    "Augmentation: preprocessing layers versus tensor ops, the same distribution",
    explanation=(
        "Keras: `RandomRotation(10/360)` then `RandomTranslation(0.1, 0.1)` (fill_mode='constant': the "
        "default 'reflect' would mirror strokes into the border), inside the model and active only in "
        "training. torch: one `affine_grid`/`grid_sample` with the same random rotation and shift, in the "
        "training loop (compare the twins in keras_models/augment.py and torch_models/augment.py). The "
        "centroid and orientation spreads of an augmented bar show the same distribution; Keras resamples "
        "twice, torch once. Keras' image layers declare supports_jit=False, which turns XLA off for "
        "a model that contains them."
    ),
    fix=(
        "x = F.grid_sample(x, F.affine_grid(theta, x.shape, align_corners=False), "
        "padding_mode='zeros', align_corners=False)"
    ),
    summary=(
        "{samples} augmented copies of a bar: centroid spread (x, y) {keras_shift_x_std_px:.2f}, "
        "{keras_shift_y_std_px:.2f} px in Keras and {torch_shift_x_std_px:.2f}, {torch_shift_y_std_px:.2f} px in "
        "torch (uniform ±10% of 28 px: {uniform_shift_std_px:.2f}); angle spread {keras_angle_std_deg:.2f}° and "
        "{torch_angle_std_deg:.2f}° (uniform ±10°: {uniform_angle_std_deg:.2f}°); intensity kept "
        "{keras_mass_ratio_mean:.3f} and {torch_mass_ratio_mean:.3f}"
    ),
)
def augmentation_distribution(samples: int = 1000) -> dict:
    """Both RandomShiftRotate twins on copies of one horizontal bar: the spread of
    its centroid (the shifts) and of its orientation (the rotations)."""
    bar = np.zeros((28, 28), np.float32)
    bar[13:15, 6:22] = 1.0  # centred, 16 px long: its angle is well defined
    copies = np.repeat(bar[None], samples, axis=0)
    keras_augment = KerasShiftRotate()
    # Build on two images first: on the torch backend a first call on a large batch is far
    # slower than later ones, and on two images it costs almost nothing.
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
    return measured
