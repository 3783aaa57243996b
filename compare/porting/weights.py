"""Framework-neutral weights: a flat dict of NumPy arrays in PyTorch's layout,
keyed by the torch twin's `state_dict()` names (`blocks.0.conv_1.weight`).

Because the twins share their attribute names, the same keys also name the
Keras layers (`model.blocks[0].conv_1`); `compare.porting.port_keras` converts each
layer's layout. One fact the weights cannot tell is kept beside them: for a Linear fed by a
flattened feature map, `layout/<its path>` holds that map's (C, H, W), because Keras
flattens it as (H, W, C). Files are `.npz`, read with `allow_pickle=False`: weights are
data, never code.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

StateDict = dict[str, np.ndarray]

# Extra arrays stored beside the weights, under names no state_dict uses.
REFERENCE_IMAGES = "reference/images"  # (N, 28, 28) float32 test images
REFERENCE_LOGITS = "reference/logits"  # the torch twin's eval-mode logits on them
LAYOUT = "layout/"  # `layout/<Linear path>`: (C, H, W) of the feature map flattened into it


class PortingError(ValueError):
    """Weights that do not fit a model; the message names the layer and both shapes."""


def check_shape(name: str, expected: tuple[int, ...], received: tuple[int, ...], layer: str) -> None:
    if tuple(expected) != tuple(received):
        raise PortingError(
            f"{name} (layer {layer!r}): the model expects shape {tuple(expected)}, "
            f"the weights have shape {tuple(received)}."
        )


def save_weights(path: Path, state: StateDict, extras: dict[str, np.ndarray] | None = None) -> None:
    """Write an .npz atomically: to a temporary name first, then renamed."""
    tmp = path.with_name(f".{path.name}.tmp.npz")
    np.savez(tmp, **state, **(extras or {}))
    os.replace(tmp, path)


def load_weights(path: Path) -> tuple[StateDict, dict[str, np.ndarray]]:
    """(state dict, extras) from a file written by `save_weights`."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    state = {k: v for k, v in arrays.items() if not k.startswith("reference/")}
    extras = {k: v for k, v in arrays.items() if k.startswith("reference/")}
    return state, extras


def layouts(state: StateDict) -> dict[str, np.ndarray]:
    """{torch path of a Linear: (C, H, W) of the feature map flattened into it}."""
    return {key[len(LAYOUT) :]: array for key, array in state.items() if key.startswith(LAYOUT)}


def weights_only(state: StateDict) -> StateDict:
    return {key: array for key, array in state.items() if not key.startswith(LAYOUT)}


def max_abs_diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))
