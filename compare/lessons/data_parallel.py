"""Does data-parallel training compute what one device computes?

After a comparison, each data-parallel run's final weights are compared with its
single-device twin's (keras-jax-dp with keras-jax, torch-ddp with torch): same
initial weights, same global batches, same learning rate. With nothing random
in the step they should agree up to the order of float32 sums: the gradient is
averaged over devices instead of summed on one. Imports NumPy only.
"""

from __future__ import annotations

from pathlib import Path

from compare.catalog.frameworks import FRAMEWORKS
from compare.catalog.registry import MODELS
from compare.porting.weights import load_weights, max_abs_diff

# Allowed weight difference, as a share of the largest weight change training made.
# Reordered float32 sums differ by ~1e-7 relative per step; Adam divides by √v, so a
# few steps later ~1e-5 of the update is typical (measured: see the README). A
# mistake (a wrong gradient scale, batches that differ) is off by ~the update itself.
TOLERANCE = 1e-3


def what_differs(run: dict) -> list[str]:
    """What makes a data-parallel run legitimately differ from its single-device twin."""
    model, regularization = MODELS[run["model"]], run["regularization"]
    reasons = []
    if model.has_dropout and regularization["dropout_rate"] != 0:
        reasons.append("dropout draws its masks per device")
    if regularization["augment"]:
        reasons.append("augmentation draws its transforms per device")
    if model.has_batch_norm:
        if FRAMEWORKS[run["framework"]].family.process_per_device:
            reasons.append(
                "DDP's BatchNorm normalizes by each device's share of the batch (SyncBatchNorm "
                "would use the whole batch)"
            )
        reasons.append(
            "BatchNorm's backward pass amplifies float32 rounding (see the parity checks) and "
            "Adam turns the resulting near-zero gradient differences into full-size steps"
        )
    return reasons


def compare_weights(data_parallel: Path, single_device: Path, initial: Path | None) -> dict:
    parallel_state, _ = load_weights(data_parallel)
    single_state, _ = load_weights(single_device)
    diff = max(max_abs_diff(parallel_state[k], single_state[k]) for k in single_state)
    figures = {"max_abs_weight_diff": diff, "largest_update": None, "relative_to_update": None}
    if initial is not None:
        initial_state, _ = load_weights(initial)
        update = max(max_abs_diff(single_state[k], initial_state[k]) for k in single_state)
        figures.update(largest_update=update, relative_to_update=diff / update if update else None)
    return figures


def parity(run: dict, single_device_run: dict, weights: dict[str, Path], initial: Path | None) -> dict:
    """One row of the report's data-parallel parity table."""
    figures = compare_weights(weights[run["framework"]], weights[single_device_run["framework"]], initial)
    reasons = what_differs(run)
    relative = figures["relative_to_update"]
    return {
        "model": run["model"],
        "variant": run["variant"],
        "framework": run["framework"],
        "reference": single_device_run["framework"],
        "devices": run["devices"],
        **figures,
        "tolerance": TOLERANCE,
        "expected_to_match": not reasons,
        "why_not": reasons,
        "within_tolerance": None if relative is None else relative <= TOLERANCE,
    }
