"""The mixed-bfloat16 toolkit: one model's bf16 forward pass in both frameworks from the same
weights, which kinds of layer return bfloat16 and which float32 (Keras' per-layer dtype policy
against torch.autocast's per-op lists), and how far the two frameworks' logits lie apart
(compare.lessons.differences.bf16_compute tells the difference for every model).

Runs inside a process whose KERAS_BACKEND is set; imports Keras and torch both.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import torch

from compare.catalog.frameworks import KERAS, TORCH
from compare.catalog.registry import MODELS
from compare.lessons.parity import to_numpy, twins
from compare.porting.port_keras import public_attributes
from compare.porting.weights import max_abs_diff
from compare.run.runner_contract import Unsupported, unless_unsupported


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
    try:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            model(images)
    finally:
        for hook in hooks:
            hook.remove()
    return seen


def keras_leaf_layers(layer: keras.Layer) -> list[keras.Layer]:
    """Every layer without sublayers, found through the public attributes the twins share."""
    found = []
    for name in public_attributes(layer):
        item = getattr(layer, name)
        for sub in item if isinstance(item, (list, tuple)) else [item]:
            if isinstance(sub, keras.Layer):
                found += keras_leaf_layers(sub) or [sub]
    return found


def keras_output_dtypes(model: keras.Model) -> list[tuple[str, str]]:
    """(kind of layer, dtype it computes and returns in) for each leaf layer: its dtype policy's
    compute dtype, which Keras casts each layer's inputs to."""
    return [(type(layer).__name__, layer.compute_dtype) for layer in keras_leaf_layers(model)]


def kinds_returning(dtype: str, seen: list[tuple[str, str]]) -> list[str]:
    return sorted({kind for kind, returned in seen if returned == dtype})


# bf16 keeps 8 significant bits: each rounding is off by up to 2^-9 ≈ 0.2% of its value.
# The two frameworks round at different places (per layer against per op), and the
# differences compound over the layers: 3% of the logits' largest magnitude allows
# about 15 such roundings in a row; a wrong port is off by the logits themselves.
BF16_RELATIVE_TOLERANCE = 0.03


def bf16_twins(name: str, images: np.ndarray) -> dict:
    """One model's bf16 forward pass in both frameworks from the same weights, each tried as
    a run is (compare.run.runner_contract.unless_unsupported): the float32 pass decides
    whether a failure is the machine's."""
    spec = MODELS[name]
    keras_inputs = spec.model_inputs(images, KERAS)  # as the model's entry says MNIST reaches it
    torch_inputs = spec.model_inputs(torch.from_numpy(images), TORCH)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        keras_model, torch_model = twins(name, seed=0)  # the Keras twin built under the policy
    finally:
        keras.config.set_dtype_policy(previous)
    torch_model.eval()
    attempts = {
        "keras": (lambda: keras_bf16(keras_model, keras_inputs), lambda: keras_float32_twin(name, keras_inputs)),
        "torch": (lambda: torch_bf16(torch_model, torch_inputs), lambda: torch_model(torch_inputs)),
    }
    outcomes, unsupported = {}, {}
    for framework, (bf16, float32) in attempts.items():
        try:
            outcomes[framework] = unless_unsupported(bf16, "bf16", float32)
        except Unsupported as error:
            unsupported[framework] = str(error)
    if unsupported:
        return {"unsupported": unsupported}
    (keras_seen, received), (torch_seen, expected) = outcomes["keras"], outcomes["torch"]
    diff = max_abs_diff(expected, received)
    scale = float(np.abs(expected).max())
    return {
        **{
            f"{framework}_{dtype}": kinds_returning(dtype, seen)
            for framework, seen in (("torch", torch_seen), ("keras", keras_seen))
            for dtype in ("float32", "bfloat16")
        },
        "logit_max_abs_diff": diff,
        "logit_max_abs": scale,
        "passed": diff <= BF16_RELATIVE_TOLERANCE * scale,
    }


def keras_bf16(model: keras.Model, inputs: np.ndarray) -> tuple[list[tuple[str, str]], np.ndarray]:
    """(kind, dtype) per leaf layer, and the float32 logits, of a model built under mixed_bfloat16."""
    return keras_output_dtypes(model), to_numpy(model(inputs, training=False)).astype(np.float32)


def keras_float32_twin(name: str, inputs: np.ndarray) -> None:
    """The same Keras twin built in float32, one forward pass (the policy left as it was)."""
    model, _ = twins(name, seed=0)
    model(inputs, training=False)


def torch_bf16(model: torch.nn.Module, inputs: torch.Tensor) -> tuple[list[tuple[str, str]], np.ndarray]:
    """(kind, dtype) per leaf module, and the float32 logits, under torch.autocast."""
    seen = torch_output_dtypes(model, inputs)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        return seen, model(inputs).float().numpy()


def bf16_across_models(images: np.ndarray, models: list[str]) -> dict:
    """bf16_twins for each of `models`, and what they say together: which kinds of layer return
    float32 in each framework, the largest relative logit gap, and what could not run here."""
    by_model = {name: bf16_twins(name, images) for name in models}
    compared = {name: m for name, m in by_model.items() if "unsupported" not in m}
    return {
        "models": by_model,
        "compared": ", ".join(compared) or "no model",
        "torch_float32_kinds": ", ".join(sorted({k for m in compared.values() for k in m["torch_float32"]})) or "none",
        "keras_float32_kinds": ", ".join(sorted({k for m in compared.values() for k in m["keras_float32"]})) or "none",
        "largest_relative_logit_diff": max(
            (m["logit_max_abs_diff"] / m["logit_max_abs"] for m in compared.values()), default=math.nan
        ),
        "tolerance": BF16_RELATIVE_TOLERANCE,
        "not_run": "; ".join(
            f"{name} on {framework} ({reason})"
            for name, m in by_model.items()
            for framework, reason in m.get("unsupported", {}).items()
        )
        or "none",
    }
