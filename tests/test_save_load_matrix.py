"""A .keras file saved under each backend loads under each other backend (3 × 3)."""

import json
import os
import subprocess
import sys

from compare.catalog.registry import MODELS

BACKENDS = ("tensorflow", "jax", "torch")
# The same weights through another backend's kernels: float32 rounding only
# (see compare/lessons/parity.py), so the parity tolerance applies.
TOLERANCE = 1e-4


def run_everywhere(command: str, folder) -> None:
    """Run `python -m tests.keras_files COMMAND folder` under every backend at once."""
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.keras_files", command, str(folder)],
            env={**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for backend in BACKENDS
    ]
    for backend, child in zip(BACKENDS, children):
        output, _ = child.communicate(timeout=600)
        assert child.returncode == 0, f"{command} under {backend} failed:\n{output[-4000:]}"


def test_every_file_loads_under_every_backend_with_the_same_predictions(tmp_path):
    run_everywhere("both", tmp_path)  # each saves, waits for the others' files, then loads them all
    matrix = {b: json.loads((tmp_path / f"loaded-under-{b}.json").read_text()) for b in BACKENDS}
    for loaded_under, differences in matrix.items():
        assert len(differences) == len(MODELS) * len(BACKENDS)
        for saved, difference in differences.items():
            assert difference <= TOLERANCE, f"{saved}, loaded under {loaded_under}: max |Δ| {difference}"
