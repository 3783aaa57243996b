"""Run the Keras suite under each backend, each in a fresh interpreter."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from compare.catalog.frameworks import keras_backends

SUITE = Path(__file__).parent / "keras_backend"


@pytest.mark.parametrize("backend", keras_backends())
def test_keras_suite(backend: str) -> None:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
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
