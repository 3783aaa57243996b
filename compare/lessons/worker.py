"""Parity and framework-difference checks on one Keras backend, in a process of its own.

    KERAS_BACKEND=jax python -m compare.lessons.worker RESULT.json [MODEL ...]

Checks the parity of the models named (every model of the catalog when none is) and every
framework difference, those measured per model on the same models. Writes RESULT.json always;
a check that fails records its error and the others still run.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from compare.catalog.registry import MODELS
from compare.contract.results import write_json_atomic
from compare.data.datasets import load_sample, unit_interval

BATCH = 32  # real digits from the shipped sample, the same on every backend


def attempt(check: Callable[..., dict], *arguments, **inputs) -> dict:
    try:
        return check(*arguments, **inputs)
    except Exception as error:  # recorded beside the other checks' numbers
        return {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()[-2000:]}


def main(argv: list[str]) -> int:
    import keras
    import numpy as np

    from compare.lessons import differences, parity, regularization

    result_path, models = Path(argv[0]), argv[1:] or list(MODELS)
    data = load_sample()
    images = unit_interval(data.x_test[:BATCH])
    labels = data.y_test[:BATCH].astype(np.int64)
    keras.utils.set_random_seed(0)
    result = {
        "backend": keras.backend.backend(),
        "parity": {
            name: {
                "inference": attempt(parity.inference_parity, spec, images),
                "training": attempt(parity.training_parity, spec, images, labels),
            }
            for name, spec in ((name, MODELS[name]) for name in models)
        },
        "differences": {
            entry.key: attempt(entry, images=images, labels=labels, models=models)
            for entry in [*differences.DIFFERENCES, *regularization.DIFFERENCES]
        },
    }
    write_json_atomic(result_path, result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
