"""How Keras' `fit` is fed, per backend: NumPy arrays, a `keras.utils.PyDataset` and,
on TensorFlow, a tf.data pipeline.

    python benchmarks/keras_feed.py [--backends jax,torch,tensorflow] [--device cpu|gpu]
                                    [--models mlp,resnet_v2] [--batch-size 128] [--steps 200]

The harness trains each backend from one feed (compare.run.keras_runner.DATA_PATHS):
a PyDataset (EpochBatches) or a tf.data pipeline (tf_data_batches), both serving the
shared per-epoch order within one `fit`. Arrays are the reference: Keras slices them
in their stored order, which the shared orders could only get from a copy of the
images per epoch and one `fit` per epoch. Each backend runs in a child process of
its own (KERAS_BACKEND is read at import); each prints the mean milliseconds per
step of a second `fit` (the first compiles), for every feed.
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


def feeds(backend: str) -> list[str]:
    return ["arrays", "PyDataset", *(["tf.data"] if backend == "tensorflow" else [])]


def fit_ms_per_step(model_name: str, feed: str, batch_size: int, steps: int) -> float:
    """Mean milliseconds per step of one epoch of `fit` on random images, after one to compile."""
    import keras
    import numpy as np

    from compare.catalog.registry import MODELS
    from compare.run.keras_runner import EpochBatches, tf_data_batches

    rng = np.random.default_rng(0)
    images = rng.random((steps * batch_size, 28, 28, 1), dtype=np.float32)
    labels = rng.integers(0, 10, steps * batch_size)
    model = MODELS[model_name].keras_class()()
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    orders = [rng.permutation(len(labels)) for _ in range(2)]  # a shared order per fit
    make = {"PyDataset": EpochBatches, "tf.data": tf_data_batches}
    for order in orders:  # the first compiles; the second is timed
        started = time.perf_counter()
        if feed == "arrays":
            model.fit(images, labels, batch_size=batch_size, shuffle=False, epochs=1, verbose=0)
        else:
            batches = make[feed](images, labels, [order], batch_size)
            model.fit(batches, epochs=1, steps_per_epoch=steps, shuffle=False, verbose=0)
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
        for feed in feeds(keras.backend.backend())
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
    print("| backend | model | feed | ms/step | / arrays |\n|---|---|---|---|---|")
    arrays = {(row["backend"], row["model"]): row["ms_per_step"] for row in rows if row["feed"] == "arrays"}
    for row in rows:
        ratio = row["ms_per_step"] / arrays[row["backend"], row["model"]]
        print(f"| {row['backend']} | {row['model']} | {row['feed']} | {row['ms_per_step']:.2f} | {ratio:.2f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
