"""Make each model's initial weights once, for every framework to start from.

    python -m compare.porting.initial_weights OUT_DIR SEED MODEL [MODEL ...]

Builds each torch twin from SEED and saves its weights, framework-neutral (see
compare.porting.weights), to OUT_DIR/<model>.npz, together with 64 reference test
images and the torch twin's eval-mode logits on them. Every run loads the file
and reports how far its own step-0 logits are from these: the parity of the
starting point, so accuracy differences come from the frameworks, not the dice.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from compare.catalog.frameworks import TORCH
from compare.catalog.registry import MODELS
from compare.data.datasets import load_sample, unit_interval
from compare.porting.weights import REFERENCE_IMAGES, REFERENCE_LOGITS, save_weights

REFERENCE_COUNT = 64


def reference_images() -> np.ndarray:
    return unit_interval(load_sample().x_test[:REFERENCE_COUNT])  # (64, 28, 28)


def main(argv: list[str]) -> int:
    import torch

    from compare.porting.port_torch import torch_to_state

    if len(argv) < 3 or not argv[1].isdigit() or not set(argv[2:]) <= set(MODELS):
        print(
            f"usage: python -m compare.porting.initial_weights OUT_DIR SEED MODEL [MODEL ...]\n"
            f"SEED: a whole number; MODEL: from {', '.join(MODELS)}. Received: {' '.join(argv) or 'nothing'}",
            file=sys.stderr,
        )
        return 2
    out, seed, models = Path(argv[0]), int(argv[1]), argv[2:]
    out.mkdir(parents=True, exist_ok=True)
    images = reference_images()
    for name in models:
        torch.manual_seed(seed)
        model = MODELS[name].make(TORCH).eval()
        inputs = MODELS[name].model_inputs(torch.from_numpy(images), TORCH)
        with torch.no_grad():
            logits = model(inputs).numpy()
        state = torch_to_state(model, inputs)  # with where a Flatten feeds a Linear
        save_weights(out / f"{name}.npz", state, {REFERENCE_IMAGES: images, REFERENCE_LOGITS: logits})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
