"""Run the Keras suite under each backend, each in a fresh interpreter."""

import subprocess
import sys
from pathlib import Path

import pytest

from compare.catalog.frameworks import keras_backends
from tests.keras_environment import keras_environment

SUITE = Path(__file__).parent / "keras_backend"


@pytest.mark.long("the Keras suite in a fresh interpreter per backend; on JAX, XLA compiles every model")
@pytest.mark.parametrize("backend", keras_backends())
def test_keras_suite(backend: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(SUITE), "-q", "-p", "no:cacheprovider"],
        env=keras_environment(backend),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, (
        f"Keras suite failed on the {backend} backend:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    )
    print(result.stdout.strip().splitlines()[-1])
