"""A user's own twins through the public check (compare.lessons.twins_check), on this
process's Keras backend: each layer type ports, names or order match the layers, and every
check that should fail does, with the number that shows why. Tolerances are the built-ins'
(compare/lessons/parity.py)."""

from pathlib import Path

import keras
import pytest
import torch
from torch import nn

from compare import Twins
from compare.lessons import check_twins
from compare.porting.port_keras import UnportableLayer

ROOT = Path(__file__).parents[2]
CONVNET = str(ROOT / "examples" / "mnist_convnet" / "twins.py")
FILES = ROOT / "tests" / "twins_files"


@pytest.fixture
def digits(sample_batch):
    images, labels = sample_batch
    return images[:16].astype("float32") / 255.0, labels[:16].astype("int64")


def results(report) -> dict[str, bool]:
    return {check.name: check.passed for check in report.checks}


def test_the_convnet_example_passes_with_its_flatten_rows_permuted(digits):
    report = check_twins(CONVNET, *digits)
    assert report.passed, report
    port = next(c for c in report.checks if c.name == "weights port")
    assert "head: rows permuted, flattened from (C, H, W) = (64, 5, 5)" in port.detail
    assert "34,826 trainable" in next(c for c in report.checks if c.name == "parameters").detail


def test_a_wrong_flatten_port_fails_forward_parity_by_far_more_than_the_tolerance(digits):
    report = check_twins(str(FILES / "wrong_flatten.py"), *digits)
    assert results(report) == {
        "constructors": True,
        "output shapes": True,
        "parameters": True,
        "weights port": True,  # every shape fits: only the logits show the bug
        "forward parity": False,
        "one-step parity": False,
    }, report
    forward = next(c for c in report.checks if c.name == "forward parity")
    assert float(forward.detail.split("difference ")[1].split()[0]) > 1e-2, forward.detail  # tolerance 1e-4
    assert "no known framework difference explains it" in forward.detail  # a port's bug, not a convention


def test_differing_constructors_and_output_shapes_fail_their_checks(digits):
    signatures = check_twins(f"{FILES / 'mismatched.py'}:signatures", *digits)
    assert results(signatures)["constructors"] is False and not signatures.passed
    assert "torch (num_classes=10, hidden_units=0)" in signatures.checks[0].detail
    shapes = check_twins(f"{FILES / 'mismatched.py'}:shapes", *digits)
    assert results(shapes)["output shapes"] is False
    assert "Keras (2, 10), torch (2, 11)" in shapes.checks[1].detail
    assert all(c.detail.startswith("not run") for c in shapes.checks[-3:])  # port, forward, one step


def test_a_layer_type_with_no_port_is_named_with_its_weights_and_how_to_register_one():
    with pytest.raises(UnportableLayer) as raised:
        check_twins(str(FILES / "unportable.py"))
    message = str(raised.value)
    assert "layer 'features' (keras.layers.SeparableConv2D) has weights and no port to torch" in message
    assert "it holds depthwise_kernel (3, 3, 1, 1), pointwise_kernel (1, 1, 1, 4), bias (4,)" in message, message
    assert "torch's module 'features' holds 0.weight (1, 1, 3, 3), 1.weight (4, 1, 1, 1), 1.bias (4,)" in message
    names = "names=lambda layer: ('0.weight', '1.weight', '1.bias')"
    assert f"register_port(keras.layers.SeparableConv2D, {names}" in message


class KerasRecurrent(keras.Model):
    """Rows of pixels through an Embedding of their quantized intensity, a GRU and an LSTM."""

    def __init__(self, num_classes: int = 10, **kwargs):
        super().__init__(**kwargs)
        self.embed = keras.layers.Embedding(8, 4)
        self.gru = keras.layers.GRU(12, return_sequences=True)
        self.lstm = keras.layers.LSTM(12)
        self.norm = keras.layers.LayerNormalization(epsilon=1e-5)  # torch's default epsilon
        self.head = keras.layers.Dense(num_classes)

    def call(self, rows, training=None):
        ids = keras.ops.cast(rows * 7.99, "int32")  # (B, 28, 28) intensities → 8 levels
        x = keras.ops.mean(self.embed(ids), axis=2)  # (B, 28, 4)
        return self.head(self.norm(self.lstm(self.gru(x))))  # (B, 10)


class TorchRecurrent(nn.Module):
    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.embed = nn.Embedding(8, 4)
        self.gru = nn.GRU(4, 12, batch_first=True)
        self.lstm = nn.LSTM(12, 12, batch_first=True)
        self.norm = nn.LayerNorm(12)
        self.head = nn.Linear(12, num_classes)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        x = self.embed((rows * 7.99).long()).mean(2)  # (B, 28, 4)
        x, _ = self.gru(x)
        _, (h, _) = self.lstm(x)
        return self.head(self.norm(h[-1]))


def test_embedding_gru_lstm_and_layer_norm_port_for_row_inputs(digits):
    report = check_twins(Twins(name="recurrent", keras=KerasRecurrent, torch=TorchRecurrent, inputs="rows"), *digits)
    assert report.passed, report
    counts = next(c for c in report.checks if c.name == "parameters").detail
    assert "torch's second LSTM bias adds 48" in counts  # 4 gates × 12 units


class KerasRenamed(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.features = keras.layers.Conv2D(4, 3, strides=2)
        self.norm = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)  # torch's defaults
        self.flatten = keras.layers.Flatten()
        self.classifier = keras.layers.Dense(10)

    def call(self, images, training=None):
        return self.classifier(self.flatten(keras.ops.relu(self.norm(self.features(images), training=training))))


class TorchRenamed(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, stride=2)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 13 * 13, 10)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.bn(self.conv(images))).flatten(1))  # flattened in forward: still found


def test_layers_with_other_names_are_matched_by_order(digits):
    report = check_twins(Twins(name="renamed", keras=KerasRenamed, torch=TorchRenamed), *digits)
    assert report.passed, report
    port = next(c for c in report.checks if c.name == "weights port").detail
    assert "matched by order" in port and "fc: rows permuted, flattened from (C, H, W) = (4, 13, 13)" in port


class KerasRowReader(keras.Model):
    """Each row of 28 pixels through a Dense, then the 28 rows flattened: a model of "rows"."""

    def __init__(self, num_classes: int = 10, **kwargs):
        super().__init__(**kwargs)
        self.row = keras.layers.Dense(8)
        self.flatten = keras.layers.Flatten()
        self.head = keras.layers.Dense(num_classes)

    def call(self, rows, training=None):
        return self.head(self.flatten(keras.ops.relu(self.row(rows))))  # (B, 28, 28) → (B, 28, 8) → (B, 10)


class TorchRowReader(nn.Module):
    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.row = nn.Linear(28, 8)
        self.flatten = nn.Flatten()
        self.head = nn.Linear(28 * 8, num_classes)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return self.head(self.flatten(torch.relu(self.row(rows))))


def test_the_bf16_check_feeds_a_rows_twin_as_its_entry_says(digits, monkeypatch):
    """(B, 28, 28) rows for a "rows" twin in both frameworks, not the images' (B, 28, 28, 1), which
    its Dense would take as 28 × 28 rows of one pixel."""
    from compare.catalog.registry import MODELS, ModelSpec
    from compare.lessons import mixed_precision

    declared = Twins(name="row_reader", keras=KerasRowReader, torch=TorchRowReader, inputs="rows")
    entry = ModelSpec("row_reader", "", "", None, False, False, fit_steps=30, inputs="rows", declared=declared)
    monkeypatch.setitem(MODELS, "row_reader", entry)
    outcome = mixed_precision.bf16_twins("row_reader", digits[0])
    assert outcome["passed"], outcome  # bf16 logits within the check's relative tolerance of each other


PEOPLE = FILES / "as_people_write.py"


def test_functional_pooling_before_a_flatten_is_seen_and_the_twins_pass(digits):
    report = check_twins(f"{PEOPLE}:pooled", *digits)
    assert report.passed, report
    port = next(c for c in report.checks if c.name == "weights port").detail
    assert "head: rows permuted, flattened from (C, H, W) = (8, 14, 14)" in port


def test_nested_keras_sequentials_port_to_torch_sequentials_with_their_activations(digits):
    report = check_twins(f"{PEOPLE}:nested", *digits)
    assert report.passed, report
    assert "classifier.1: rows permuted" in next(c for c in report.checks if c.name == "weights port").detail


def test_a_users_layer_whose_weight_has_another_name_is_named_with_the_port_to_write(digits):
    report = check_twins(f"{PEOPLE}:gained", *digits)
    port = next(c for c in report.checks if c.name == "weights port")
    assert not port.passed
    assert "layer 'scale' (RowGain)" in port.detail and "g (1, 784)" in port.detail, port.detail
    assert "torch's module 'scale' holds gain (784,)" in port.detail
    assert "register_port(RowGain, names=lambda layer: ('gain',)" in port.detail


def test_stride2_same_padding_is_named_as_the_cause_of_a_failed_parity(digits):
    report = check_twins(f"{PEOPLE}:strided", *digits)
    for name in ("forward parity", "one-step parity"):
        check = next(c for c in report.checks if c.name == name)
        assert not check.passed and "likely cause: stride-2 'same' padding. `conv`:" in check.detail, check.detail
    assert "use `keras.layers.ZeroPadding2D(1)` then `padding='valid'`" in report.checks[-2].detail


def test_keras_batch_norm_defaults_are_named_epsilon_forward_and_momentum_in_the_step(digits):
    report = check_twins(f"{PEOPLE}:default_norm", *digits)
    forward, step = report.checks[-2:]
    assert not forward.passed and "likely cause: BatchNorm epsilon. `bn`: " in forward.detail, forward.detail
    assert "pass `epsilon=1e-05`" in forward.detail
    assert not step.passed and "BatchNorm momentum" in step.detail and "pass `momentum=0.9`" in step.detail, step.detail
