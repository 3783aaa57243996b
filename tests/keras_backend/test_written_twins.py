"""Keras twins written from the project's torch modules and the convnet example
(`write-keras-twin`, compare.porting.keras_writer) pass every check of check-twins on this
process's backend, with the built-in tolerances (compare/lessons/parity.py)."""

from pathlib import Path

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


@pytest.fixture(scope="module")
def twins_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("written")
    for name, reference in MODULES.items():
        assert write_twin(reference, folder / f"{name}.py", "image") == 0, reference
    return folder


@pytest.mark.parametrize("name", MODULES)
def test_a_written_twin_passes_every_check(twins_folder, sample_batch, name):
    images, labels = sample_batch
    digits = (images[:16] / 255.0).astype("float32"), labels[:16].astype("int64")
    report = check_twins(str(twins_folder / f"{name}.py"), *digits)
    assert report.passed, "\n".join(f"{c.name}: {c.passed} {c.detail}" for c in report.checks)
    assert [c.name for c in report.checks][-2:] == ["forward parity", "one-step parity"]
