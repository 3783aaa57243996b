"""Parity and framework-difference checks on one Keras backend, in a process of its own.

    KERAS_BACKEND=jax python -m compare.check_worker RESULT.json

Writes RESULT.json always; a check that fails records its error and the
others still run.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from compare.datasets import load_sample, unit_interval
from compare.differences import DIFFERENCES
from compare.registry import MODELS
from compare.results import write_json_atomic

BATCH = 32  # real digits from the shipped sample, the same on every backend


def attempt(check: Callable[..., dict], *arguments) -> dict:
    try:
        return check(*arguments)
    except Exception as error:  # recorded beside the other checks' numbers
        return {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()[-2000:]}


def main(argv: list[str]) -> int:
    import keras
    import numpy as np

    from compare import checks

    result_path = Path(argv[0])
    data = load_sample()
    images = unit_interval(data.x_test[:BATCH])
    labels = data.y_test[:BATCH].astype(np.int64)
    keras.utils.set_random_seed(0)

    arguments = {
        "batch_norm_defaults": (images,),
        "stride2_padding": (images,),
        "channels_last": (images,),
        "lstm_bias_and_gates": (images,),
        "dense_layout_and_init": (images, labels),
        "l2_penalty_vs_sgd_weight_decay": (images, labels),
        "training_mode": (images,),
        "bf16_compute": (images,),
    }
    result = {
        "backend": keras.backend.backend(),
        "parity": {
            name: {
                "inference": attempt(checks.inference_parity, name, images),
                "training": attempt(checks.training_parity, name, images, labels),
            }
            for name in MODELS
        },
        "differences": {d.key: attempt(getattr(checks, d.key), *arguments.get(d.key, ())) for d in DIFFERENCES},
    }
    write_json_atomic(result_path, result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
