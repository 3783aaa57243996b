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

from tests.smoke_comparison import SharedSmoke  # noqa: E402


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


def shared_temp(tmp_path_factory, worker_id: str) -> Path:
    """The folder every worker of this session sees (each worker's own base temp is inside it)."""
    return tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent


@pytest.fixture(scope="session", autouse=True)
def smoke_started_early(request, tmp_path_factory, worker_id) -> None:
    """Start the shared smoke comparison as the session starts, when a collected test reads it."""
    if any("smoke_folder" in getattr(item, "fixturenames", ()) for item in request.session.items):
        SharedSmoke(shared_temp(tmp_path_factory, worker_id)).start()


@pytest.fixture(scope="session")
def smoke_folder(tmp_path_factory, worker_id) -> Path:
    """One smoke comparison of the MLP on the five single-device frameworks (seed 0, with the
    checks), shared by the tests that read it (tests/test_harness.py, tests/test_statistics.py,
    tests/test_deployment.py); run in the background from the session's start (tests/smoke_comparison.py)."""
    return SharedSmoke(shared_temp(tmp_path_factory, worker_id)).wait()
