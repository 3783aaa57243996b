"""The Keras twin writer (compare.porting.keras_writer) as far as torch alone can check it: what it
writes for the project's modules, and what it refuses, naming the operation and its line, with
nothing written. The written twins pass check-twins on every backend in
tests/keras_backend/test_written_twins.py; the command end to end is in tests/test_twins.py."""

import re
import textwrap
from pathlib import Path

import pytest

from compare.porting.keras_writer.__main__ import main as write_twin

ROOT = Path(__file__).parents[1]


def squashed(text: str) -> str:
    """The source without whitespace or the trailing commas of wrapped lines, as the formatter may lay it out."""
    return re.sub(r",([)\]])", r"\1", re.sub(r"\s+", "", text))


class Written(str):
    def __contains__(self, part: str) -> bool:
        return squashed(part) in squashed(self)


def written(reference: str, out: Path, capsys) -> Written:
    assert write_twin(reference, out, "image") == 0, capsys.readouterr().err
    return Written(out.read_text())


def refusal(source: str, tmp_path: Path, capsys) -> str:
    """The writer's message for the module `Module` defined by `source`; asserts nothing was written."""
    path = tmp_path / "module.py"
    path.write_text("import torch\nimport torch.nn.functional as F\nfrom torch import nn\n\n" + textwrap.dedent(source))
    out = tmp_path / "twin.py"
    assert write_twin(f"{path}:Module", out, "image") == 2
    assert not out.exists() and not list(tmp_path.glob("*.tmp"))
    message = capsys.readouterr().err
    assert message.startswith("write-keras-twin: ") and message.rstrip().endswith("Nothing was written.")
    assert "Traceback" not in message
    return message


def test_the_resnet_is_written_with_torchs_conventions_explicit_and_its_fixed_arguments_guarded(tmp_path, capsys):
    text = written("torch_models:ResNetV2", tmp_path / "resnet.py", capsys)
    assert "class PreActBlock(keras.layers.Layer):" in text and "class ResNetV2(keras.Model):" in text
    # Stride 2 somewhere: torch's symmetric padding=1 as ZeroPadding2D + "valid"; at stride 1 only, "same".
    assert "self.conv_1_padding = keras.layers.ZeroPadding2D(1)" in text
    assert 'self.conv_2 = keras.layers.Conv2D(out_channels, 3, padding="same", use_bias=False)' in text
    assert "keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-05)" in text
    # The values that vary between the blocks follow their arguments; the shortcut exists where they differ.
    assert "keras.layers.Conv2D(out_channels, 1, strides=stride, use_bias=False) if" in text
    # Built with another stem, torch's first block takes it in: the argument is followed, not guarded.
    assert "PreActBlock(in_channels=stem_channels, out_channels=32, stride=1)" in text
    assert "if (block_channels, block_strides) != ((32, 64, 64, 128, 128), (1, 2, 1, 2, 1)):" in text
    assert "x = keras.ops.mean(x, axis=(1, 2))  # (B, 128)" in text  # torch's dims (2, 3), channels-last
    assert 'twins = Twins(name="res_net_v2", keras=ResNetV2, torch=TorchResNetV2, inputs="image")' in text


def test_the_lstm_state_and_the_mlp_flatten_are_translated(tmp_path, capsys):
    lstm = written("torch_models:LSTMClassifier", tmp_path / "lstm.py", capsys)
    assert "keras.layers.LSTM(units, return_sequences=True, return_state=True)" in lstm
    assert "_, h, _ = self.lstm(rows, training=training)" in lstm
    assert "return self.head(h)  # (B, 10)" in lstm  # torch's h[-1]: Keras returns the last layer's state alone
    mlp = written("torch_models:MLP", tmp_path / "mlp.py", capsys)
    assert "x = keras.ops.reshape(images, (keras.ops.shape(images)[0], -1))  # (B, 784)" in mlp
    assert "for linear in self.hidden:" in mlp and "self.dropout = keras.layers.Dropout(dropout_rate)" in mlp


def test_a_file_reference_is_imported_relative_to_the_written_twin(tmp_path, capsys):
    torch_file = ROOT / "examples" / "mnist_convnet" / "torch_convnet.py"
    text = written(f"{torch_file}:ConvNet", tmp_path / "c.py", capsys)
    relative = re.search(r'import_file\(\s*Path\(__file__\)\.resolve\(\)\.parent / "(.*)"', text).group(1)
    assert (tmp_path / relative).resolve() == torch_file


@pytest.mark.parametrize(
    "source, expected",
    [
        (
            """
            class Module(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.conv = nn.Conv2d(1, 4, 3, padding=1)
                    self.head = nn.Linear(4 * 28 * 28, 10)

                def forward(self, images):
                    x = self.conv(images).permute(0, 2, 3, 1)  # to channels-last
                    return self.head(x.reshape(x.shape[0], -1))
            """,
            r"module.py, line 13: x = self.conv\(images\).permute\(0, 2, 3, 1\).*: a permute or transpose of a "
            r"channels-first map: the writer cannot prove its Keras layout",
        ),
        (
            """
            class Module(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.conv = nn.Conv2d(1, 4, 3)
                    self.head = nn.Linear(26 * 4 * 26, 10)

                def forward(self, images):
                    x = self.conv(images).reshape(-1, 26, 4 * 26)  # rows of channels
                    return self.head(x.flatten(1))
            """,
            r"line 13: .*`reshape` of a channels-first map \(2, 4, 26, 26\) into \(2, 26, 104\)",
        ),
        (
            """
            class Module(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.pool = nn.FractionalMaxPool2d(2, output_size=14)

                def forward(self, images):
                    return self.pool(images).flatten(1)
            """,
            r"torch's FractionalMaxPool2d has no Keras twin in the writer",
        ),
        (
            """
            class Module(nn.Module):
                def __init__(self, width):
                    super().__init__()
            """,
            r"Module\(\*\*\{\}\) raised TypeError: .*missing 1 required positional argument: 'width'",
        ),
    ],
    ids=["channels-last permute", "reshape of a map", "no keras layer", "no defaults"],
)
def test_what_cannot_be_translated_is_named_and_nothing_is_written(tmp_path, capsys, source, expected):
    assert re.search(expected, refusal(source, tmp_path, capsys))
