"""How Keras' `fit` is fed: NumPy arrays against a `keras.utils.PyDataset`, per backend.

    python benchmarks/keras_feed.py [--backends jax,torch,tensorflow] [--device cpu|gpu]
                                    [--models mlp,resnet_v2] [--batch-size 128] [--steps 200]

The harness feeds Keras a PyDataset (compare.run.keras_runner.EpochBatches): it is the
one feed that hands every framework the same batches in the shared per-epoch order
within one `fit`. Arrays are Keras' other idiomatic feed. Each backend runs in a
child process of its own (KERAS_BACKEND is read at import); each prints the mean
milliseconds per step of a second `fit` (the first compiles), for both feeds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def fit_ms_per_step(model_name: str, feed: str, batch_size: int, steps: int) -> float:
    """Mean milliseconds per step of one epoch of `fit` on random images, after one to compile."""
    import keras
    import numpy as np

    from compare.catalog.registry import MODELS
    from compare.run.keras_runner import EpochBatches

    rng = np.random.default_rng(0)
    images = rng.random((steps * batch_size, 28, 28, 1), dtype=np.float32)
    labels = rng.integers(0, 10, steps * batch_size)
    model = MODELS[model_name].keras_class()()
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    order = [np.arange(len(labels))]
    for _ in range(2):  # the first compiles; the second is timed
        started = time.perf_counter()
        if feed == "arrays":
            model.fit(images, labels, batch_size=batch_size, shuffle=False, epochs=1, verbose=0)
        else:
            model.fit(EpochBatches(images, labels, order, batch_size), epochs=1, verbose=0)
        elapsed = time.perf_counter() - started
    return elapsed / steps * 1e3


def child(args: argparse.Namespace) -> None:
    import keras

    rows = [
        {
            "backend": keras.backend.backend(),
            "model": model,
            "feed": feed,
            "ms_per_step": fit_ms_per_step(model, feed, args.batch_size, args.steps),
        }
        for model in args.models.split(",")
        for feed in ("arrays", "pydataset")
    ]
    print(json.dumps(rows))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="jax,torch,tensorflow")
    parser.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--models", default="mlp,resnet_v2")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return 0
    rows = []
    for backend in args.backends.split(","):
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
        if args.device == "cpu":
            env.update(CUDA_VISIBLE_DEVICES="", JAX_PLATFORMS="cpu")
        command = [
            sys.executable,
            __file__,
            "--child",
            "--models",
            args.models,
            "--batch-size",
            str(args.batch_size),
            "--steps",
            str(args.steps),
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode:
            print(f"{backend}: failed: {done.stderr.strip().splitlines()[-1:]}")
            continue
        rows += json.loads(done.stdout.strip().splitlines()[-1])
    print("| backend | model | arrays ms/step | PyDataset ms/step | PyDataset / arrays |\n|---|---|---|---|---|")
    for arrays, pydataset in zip(rows[::2], rows[1::2]):
        print(
            f"| {arrays['backend']} | {arrays['model']} | {arrays['ms_per_step']:.2f} | "
            f"{pydataset['ms_per_step']:.2f} | {pydataset['ms_per_step'] / arrays['ms_per_step']:.2f}× |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
