"""Run the Keras suite under each backend, each in a fresh interpreter."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from compare.catalog.frameworks import keras_backends

SUITE = Path(__file__).parent / "keras_backend"
# The suite checks what the models compute (shapes, parity within 1e-4, Keras' layer contract),
# not how fast. On JAX, which compiles every program with XLA, it runs with XLA's backend
# optimizations off: 152 s instead of 200 s on the 2-core EPYC, every tolerance still held (on
# TensorFlow the same flags saved nothing). The comparisons, notebooks and `check` keep XLA's defaults.
QUICK_XLA = {"jax": "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"}


@pytest.mark.long("the Keras suite in a fresh interpreter per backend; on JAX, XLA compiles every model")
@pytest.mark.parametrize("backend", keras_backends())
def test_keras_suite(backend: str) -> None:
    xla_flags = f"{os.environ.get('XLA_FLAGS', '')} {QUICK_XLA.get(backend, '')}".strip()
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    if xla_flags:
        env["XLA_FLAGS"] = xla_flags
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(SUITE), "-q", "-p", "no:cacheprovider"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, (
        f"Keras suite failed on the {backend} backend:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    )
    print(result.stdout.strip().splitlines()[-1])
