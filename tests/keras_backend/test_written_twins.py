"""Keras twins written from the project's torch modules and the convnet example
(`write-keras-twin`, compare.porting.keras_writer) pass every check of check-twins on this
process's backend, with the built-in tolerances (compare/lessons/parity.py)."""

from pathlib import Path

import keras
import pytest

from compare.lessons import check_twins
from compare.porting.keras_writer.__main__ import main as write_twin

ROOT = Path(__file__).parents[2]
MODULES = {
    "MLP": "torch_models:MLP",
    "ResNetV2": "torch_models:ResNetV2",
    "LSTMClassifier": "torch_models:LSTMClassifier",
    "TransformerClassifier": "torch_models:TransformerClassifier",
    "ConvNet": f"{ROOT / 'examples' / 'mnist_convnet' / 'torch_convnet.py'}:ConvNet",
}

# What the writer writes does not depend on the backend; whether each backend computes the layers
# these twins use as torch does is the packaged twins' one-step parity, every model on every backend
# (tests/keras_backend/test_porting.py). So the compiled backends, where each model costs a compile
# (the written ResNetV2 and transformer 6 s each on JAX, 4 and 3 s on TensorFlow), check the MLP and
# the convnet here, and the torch backend every written twin.
CHECKED = list(MODULES) if keras.backend.backend() == "torch" else ["MLP", "ConvNet"]


@pytest.fixture(scope="module")
def twins_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("written")
    for name in CHECKED:
        reference = MODULES[name]
        assert write_twin(reference, folder / f"{name}.py", "image") == 0, reference
    return folder


@pytest.mark.parametrize("name", CHECKED)
def test_a_written_twin_passes_every_check(twins_folder, sample_batch, name):
    images, labels = sample_batch
    digits = (images[:16] / 255.0).astype("float32"), labels[:16].astype("int64")
    report = check_twins(str(twins_folder / f"{name}.py"), *digits)
    assert report.passed, "\n".join(f"{c.name}: {c.passed} {c.detail}" for c in report.checks)
    assert [c.name for c in report.checks][-2:] == ["forward parity", "one-step parity"]
