"""Save and load `.keras` files across backends (driven by tests/test_save_load_matrix.py).

    KERAS_BACKEND=jax python -m tests.keras_files save DIR MODEL...   # DIR/<model>.<backend>.keras + predictions
    KERAS_BACKEND=torch python -m tests.keras_files load DIR          # load every file, write the differences
    KERAS_BACKEND=torch python -m tests.keras_files both DIR MODEL... # save, wait for every backend's files, load

Predictions are on the same 16 sample digits everywhere, in inference mode.
"""

import json
import sys
import time
from pathlib import Path

import keras
import numpy as np

import keras_models  # noqa: F401 - registers the model classes, which load_model needs
from compare.catalog.registry import MODELS
from compare.data.datasets import load_sample


def digits() -> np.ndarray:
    return (load_sample().x_test[:16].astype(np.float32) / 255.0)[..., None]


def save(folder: Path, models: list[str]) -> None:
    backend = keras.backend.backend()
    keras.utils.set_random_seed(0)
    for name in models:
        model = MODELS[name].keras_class()()
        model.build((None, 28, 28, 1))
        model.save(folder / f"{name}.{backend}.keras")
        np.save(folder / f"{name}.{backend}.npy", keras.ops.convert_to_numpy(model.predict_on_batch(digits())))


def load(folder: Path) -> None:
    backend = keras.backend.backend()
    differences = {}
    for path in sorted(folder.glob("*.keras")):
        name, saved_under, _ = path.name.split(".")
        model = keras.models.load_model(path)
        expected = np.load(folder / f"{name}.{saved_under}.npy", allow_pickle=False)
        received = keras.ops.convert_to_numpy(model.predict_on_batch(digits()))
        differences[f"{name} saved under {saved_under}"] = float(np.max(np.abs(received - expected)))
    (folder / f"loaded-under-{backend}.json").write_text(json.dumps(differences, indent=2))


BACKENDS = ("tensorflow", "jax", "torch")


def both(folder: Path, models: list[str], timeout_s: float = 600) -> None:
    """Save, then load once every backend has saved: one process per backend instead of two."""
    save(folder, models)
    (folder / f"{keras.backend.backend()}.saved").touch()
    deadline = time.monotonic() + timeout_s
    while not all((folder / f"{b}.saved").exists() for b in BACKENDS):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the other backends did not save within {timeout_s} s")
        time.sleep(0.2)
    load(folder)


if __name__ == "__main__":
    command, folder, models = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
    if command == "load":
        load(folder)
    else:
        {"save": save, "both": both}[command](folder, models)
