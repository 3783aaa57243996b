"""Cases both twins must handle alike, shared by the torch and Keras suites."""

# (model, constructor kwargs, the argument the error must name, the value it must show)
INVALID_ARGS = [
    ("mlp", {"num_classes": 0}, "num_classes", "0"),
    ("mlp", {"hidden_units": (256, -1)}, "hidden_units", "-1"),
    ("mlp", {"dropout_rate": 1.5}, "dropout_rate", "1.5"),
    ("mlp", {"image_size": "28"}, "image_size", "'28'"),
    ("resnet_v2", {"stem_channels": 0}, "stem_channels", "0"),
    ("resnet_v2", {"block_strides": (1, 2)}, "block_strides", "(1, 2)"),
    ("resnet_v2", {"block_strides": (1, 3, 1, 2, 1)}, "stride", "3"),
    ("transformer", {"patch_size": 5}, "image_size", "28"),
    ("transformer", {"num_heads": 3}, "d_model", "64"),
    ("transformer", {"dropout_rate": -0.1}, "dropout_rate", "-0.1"),
    ("transformer", {"num_blocks": 2.0}, "num_blocks", "2.0"),
    ("lstm", {"units": True}, "units", "True"),
]

# Validation losses after each epoch → (patience, epoch training stops at or None,
# best epoch), worked out by hand from Keras' EarlyStopping rule: only a loss
# lower than every earlier one counts as better (equal or NaN does not);
# `patience` epochs in a row without one stop training. Epochs count from 1.
NAN = float("nan")
EARLY_STOPPING_CASES = [
    ([1.0, 0.9, 0.8, 0.7], 2, None, 4),
    ([1.0, 0.9, 0.95, 0.96, 0.5], 2, 4, 2),
    ([1.0, 1.0, 1.0], 2, 3, 1),
    ([1.0, NAN, NAN, 0.1], 2, 3, 1),
    ([1.0, 1.1, 0.9, 1.2, 1.3, 0.1], 2, 5, 3),
    ([2.0, 1.9], 1, None, 2),
    ([2.0, 2.1, 1.0], 1, 2, 1),
]


def torch_bf16_lstm_error() -> str | None:
    """The reproduction, written apart from the code under test: the first line of the error
    torch's LSTM raises under bf16 autocast on this CPU, or None where oneDNN has the kernel
    (AVX-512). The CPU-dependent tests expect `unsupported` with this message, or the numbers."""
    import torch

    try:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            torch.nn.LSTM(28, 128, batch_first=True).eval()(torch.randn(8, 28, 28))
    except RuntimeError as error:
        return str(error).splitlines()[0]
    return None
