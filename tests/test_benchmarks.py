"""The benchmark scripts run end to end with a tiny budget (they measure; nothing here
asserts a speed)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_keras_feed_times_every_feed_of_a_backend():
    """On TensorFlow: arrays, the PyDataset and the runner's tf.data pipeline, each timed."""
    done = subprocess.run(
        [sys.executable, "benchmarks/keras_feed.py", "--backends", "tensorflow", "--models", "mlp"]
        + ["--batch-size", "8", "--steps", "2", "--repeats", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = [line.split("|")[1:-1] for line in done.stdout.splitlines() if line.startswith("| tensorflow")]
    assert [row[2].strip() for row in rows] == ["arrays", "PyDataset", "tf.data"]
    assert all(float(row[3]) > 0 for row in rows)
