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
from filelock import FileLock  # noqa: E402


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


@pytest.fixture(scope="session")
def smoke_folder(tmp_path_factory, worker_id) -> Path:
    """One smoke comparison of the MLP on the five single-device frameworks (seed 0, with the
    checks), shared by the tests that read it (tests/test_harness.py, tests/test_statistics.py).
    Under pytest-xdist each worker has its own session: the first to arrive runs it, the
    others wait on the lock and read the same folder."""
    from compare.catalog.frameworks import default_frameworks
    from tests.command import smoke_cli

    shared = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    out, done = shared / "smoke", shared / "smoke.done"
    with FileLock(str(shared / "smoke.lock")):
        if not done.exists():
            frameworks = ",".join(default_frameworks(gpu_count=0))
            result = smoke_cli("mlp", frameworks, "--device", "cpu", "--out", str(out))
            assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
            (shared / "smoke.stdout").write_text(result.stdout)
            done.touch()
    return out
