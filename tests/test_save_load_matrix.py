"""A .keras file saved under each backend loads under each other backend (3 × 3)."""

import json
import subprocess
import sys

import pytest

from tests.keras_environment import keras_environment

BACKENDS = ("tensorflow", "jax", "torch")
# The models whose files nest the project's own blocks (PreActBlock; PatchEmbedding and
# EncoderBlock with attention), which a backend could serialize its own way. The MLP's and the
# LSTM's files hold only Keras' built-in layers; every backend's suite reloads all four models
# (tests/keras_backend/test_keras_models.py), and notebook 06 moves the MLP's across all three.
MODELS = ("resnet_v2", "transformer")
# The same weights through another backend's kernels: float32 rounding only
# (see compare/lessons/parity.py), so the parity tolerance applies.
TOLERANCE = 1e-4


def run_everywhere(command: str, folder) -> None:
    """Run `python -m tests.keras_files COMMAND folder` under every backend at once."""
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.keras_files", command, str(folder), *MODELS],
            env=keras_environment(backend),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for backend in BACKENDS
    ]
    for backend, child in zip(BACKENDS, children):
        output, _ = child.communicate(timeout=600)
        assert child.returncode == 0, f"{command} under {backend} failed:\n{output[-4000:]}"


@pytest.mark.long("each backend saves in a process of its own and every other loads its files")
def test_every_file_loads_under_every_backend_with_the_same_predictions(tmp_path):
    run_everywhere("both", tmp_path)  # each saves, waits for the others' files, then loads them all
    matrix = {b: json.loads((tmp_path / f"loaded-under-{b}.json").read_text()) for b in BACKENDS}
    for loaded_under, differences in matrix.items():
        assert len(differences) == len(MODELS) * len(BACKENDS)
        for saved, difference in differences.items():
            assert difference <= TOLERANCE, f"{saved}, loaded under {loaded_under}: max |Δ| {difference}"
