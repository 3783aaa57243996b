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


def test_suite_durations_prints_the_slowest_items_and_the_total():
    """The suite's time guard, on two quick test files instead of the whole suite."""
    done = subprocess.run(
        [sys.executable, "benchmarks/suite_durations.py", "--top", "3", "--"]
        + ["tests/test_code_size.py", "tests/test_docs.py", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "| the 3 slowest items | seconds |" in done.stdout
    assert "| `tests/test_docs.py` |" in done.stdout and "passed" in done.stdout
    assert "wall time 0 min" in done.stdout and "torch kernels" in done.stdout
