"""Keras fixes its backend at import, so the Keras suite (tests/keras_backend/)
runs once per backend, each in its own interpreter, driven by
tests/test_keras_backends.py. It is collected directly only when KERAS_BACKEND
is set, e.g. `KERAS_BACKEND=jax python -m pytest tests/keras_backend`.
"""

import os
from pathlib import Path

if os.environ.get("PYTEST_XDIST_WORKER"):
    # The workers share the machine's cores: one OpenMP thread per process (children and
    # notebook kernels inherit it). With torch's default, its waiting threads spin on cores
    # another worker needs: two notebooks side by side took 60 s here, against 11 s.
    os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402  (after the thread count: OpenBLAS reads it at import)
import pytest  # noqa: E402


def pytest_ignore_collect(collection_path: Path, config):
    if collection_path.name == "keras_backend" and not os.environ.get("KERAS_BACKEND"):
        return True
    return None


@pytest.fixture(scope="session")
def sample_batch() -> tuple[np.ndarray, np.ndarray]:
    """64 real digits from the shipped sample: uint8 (64, 28, 28) and labels (64,)."""
    from compare.data.datasets import load_sample

    mnist = load_sample()
    return mnist.x_train[:64], mnist.y_train[:64]
