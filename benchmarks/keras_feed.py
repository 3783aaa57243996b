"""How Keras' `fit` is fed, per backend: NumPy arrays, a `keras.utils.PyDataset` and,
on TensorFlow, a tf.data pipeline.

    python benchmarks/keras_feed.py [--backends jax,torch,tensorflow] [--device cpu|gpu]
                                    [--models mlp,resnet_v2] [--batch-size 128] [--steps 100]
                                    [--repeats 5]

The harness trains each backend from the feed its engine adapter names (Engine.keras_feed):
a PyDataset (EpochBatches) or a tf.data pipeline (tf_data_batches), both serving the
shared per-epoch order within one `fit`. Arrays are the reference: Keras slices them
in their stored order, which the shared orders could only get from a copy of the
images per epoch and one `fit` per epoch. Each backend runs in a child process of
its own (KERAS_BACKEND is read at import); it prints, per feed, the median over
`--repeats` one-epoch `fit`s of their mean milliseconds per step.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def feeds(backend: str) -> list[str]:
    return ["arrays", "PyDataset", *(["tf.data"] if backend == "tensorflow" else [])]


def feed_ms_per_step(model_name: str, feed_names: list[str], batch_size: int, steps: int, repeats: int) -> dict:
    """Median milliseconds per step of one-epoch `fit`s on random images, per feed.

    Each feed trains its own model, compiled by one `fit` first; then the feeds take
    turns, `repeats` times, so a slower stretch of a noisy machine falls on all of them.
    """
    import keras
    import numpy as np

    from compare.catalog.registry import MODELS
    from compare.run.keras_runner import FEEDS

    rng = np.random.default_rng(0)
    images = rng.random((steps * batch_size, 28, 28, 1), dtype=np.float32)
    labels = rng.integers(0, 10, steps * batch_size)

    def one_epoch(model: keras.Model, feed: str) -> float:
        started = time.perf_counter()
        if feed == "arrays":
            model.fit(images, labels, batch_size=batch_size, shuffle=False, epochs=1, verbose=0)
        else:
            batches = FEEDS[feed](images, labels, [rng.permutation(len(labels))], batch_size)  # a shared order
            model.fit(batches, epochs=1, steps_per_epoch=steps, shuffle=False, verbose=0)
        return (time.perf_counter() - started) / steps * 1e3

    models = {}
    for feed in feed_names:
        models[feed] = MODELS[model_name].keras_class()()
        models[feed].compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        one_epoch(models[feed], feed)  # compiles
    times = {feed: [] for feed in feed_names}
    for _ in range(repeats):
        for feed in feed_names:
            times[feed].append(one_epoch(models[feed], feed))
    return {feed: statistics.median(ms) for feed, ms in times.items()}


def child(args: argparse.Namespace) -> None:
    import keras

    backend = keras.backend.backend()
    rows = [
        {"backend": backend, "model": model, "feed": feed, "ms_per_step": ms}
        for model in args.models.split(",")
        for feed, ms in feed_ms_per_step(model, feeds(backend), args.batch_size, args.steps, args.repeats).items()
    ]
    print(json.dumps(rows))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="jax,torch,tensorflow")
    parser.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--models", default="mlp,resnet_v2")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=100, help="steps per timed fit")
    parser.add_argument("--repeats", type=int, default=5, help="timed fits per feed (the median is printed)")
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
            "--repeats",
            str(args.repeats),
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
