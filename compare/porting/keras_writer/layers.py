"""torch's own modules → the Keras layers that compute the same function, with every torch
default that differs from Keras' passed explicitly and commented; and the layout each
module's output has (see compare.porting.keras_writer.trace)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from compare.porting.keras_writer.trace import NCHW, SAME, STACKED, Event, WriterError, is_own


@dataclass(frozen=True)
class KerasLayer:
    """A Keras layer constructor: `type(*positional, **keywords)`, with the comment that goes beside it."""

    type: str
    arguments: tuple[tuple[str | None, object], ...]  # (keyword, or None for a positional argument; value)
    comment: str = ""
    padding: object = None  # a ZeroPadding2D(padding) to apply before the layer


# The Keras defaults of the keyword arguments the writer leaves out when they hold.
KERAS_DEFAULTS = {
    "strides": 1,
    "padding": "valid",
    "dilation_rate": 1,
    "groups": 1,
    "use_bias": True,
    "center": True,
    "scale": True,
}


def pair(value) -> tuple[int, int]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def single(value):
    """An (n, n) pair as n, as Keras accepts it."""
    first, second = pair(value)
    return first if first == second else (first, second)


def conv2d(conv: nn.Conv2d, padded_at_stride_1: bool) -> KerasLayer:
    if conv.padding_mode != "zeros" or conv.padding == "same" and any(k % 2 == 0 for k in conv.kernel_size):
        raise WriterError(
            f"Conv2d with padding_mode={conv.padding_mode!r}, padding={conv.padding!r} has no Keras twin here"
        )
    padding = (
        (0, 0)
        if conv.padding == "valid"
        else tuple(k // 2 for k in conv.kernel_size)
        if conv.padding == "same"
        else pair(conv.padding)
    )
    arguments = [(None, conv.out_channels), (None, single(conv.kernel_size))]
    if pair(conv.stride) != (1, 1):
        arguments.append(("strides", single(conv.stride)))
    same = padding == tuple(k // 2 for k in conv.kernel_size) and padded_at_stride_1
    if padding != (0, 0) and same:
        arguments.append(("padding", "same"))
    if pair(conv.dilation) != (1, 1):
        arguments.append(("dilation_rate", single(conv.dilation)))
    if conv.groups != 1:
        arguments.append(("groups", conv.groups))
    if conv.bias is None:
        arguments.append(("use_bias", False))
    if padding == (0, 0) or same:
        comment = "" if padding == (0, 0) else f"torch's padding={single(padding)} at stride 1 is Keras' 'same'"
        return KerasLayer("keras.layers.Conv2D", tuple(arguments), comment)
    comment = f"torch pads {single(padding)} on every side; Keras' 'same' would pad only bottom and right at stride 2"
    return KerasLayer("keras.layers.Conv2D", tuple(arguments), comment, padding=single(padding))


def batch_norm(norm: nn.modules.batchnorm._BatchNorm) -> KerasLayer:
    if norm.momentum is None or not norm.track_running_stats:
        raise WriterError("BatchNorm with momentum=None or track_running_stats=False has no Keras twin here")
    arguments = [("momentum", round(1 - norm.momentum, 10)), ("epsilon", norm.eps)]
    if not norm.affine:
        arguments += [("center", False), ("scale", False)]
    comment = f"torch's momentum={norm.momentum} weighs the new batch (Keras': 1 - it); eps={norm.eps:g} (Keras' 1e-3)"
    return KerasLayer("keras.layers.BatchNormalization", tuple(arguments), comment)


def layer_norm(norm: nn.LayerNorm) -> KerasLayer:
    if len(norm.normalized_shape) != 1:
        raise WriterError(f"LayerNorm over {norm.normalized_shape} (more than the last axis) has no Keras twin here")
    arguments = [("epsilon", norm.eps)] + ([] if norm.elementwise_affine else [("center", False), ("scale", False)])
    return KerasLayer("keras.layers.LayerNormalization", tuple(arguments), f"torch's eps={norm.eps:g} (Keras' 1e-3)")


def recurrent(rnn: nn.RNNBase) -> KerasLayer:
    if not rnn.batch_first or rnn.num_layers != 1 or rnn.bidirectional or getattr(rnn, "proj_size", 0):
        raise WriterError(
            f"{type(rnn).__name__} with batch_first={rnn.batch_first}, num_layers={rnn.num_layers}, "
            f"bidirectional={rnn.bidirectional}: only one batch-first, one-way layer has a Keras twin here"
        )
    name = type(rnn).__name__
    states = "h, c" if name == "LSTM" else "h"
    comment = f"returns [outputs, {states}]; torch's {states} carry a leading (layers,) axis"
    arguments = ((None, rnn.hidden_size), ("return_sequences", True), ("return_state", True))
    return KerasLayer(f"keras.layers.{name}", arguments, comment)


def pool(module, keras_type: str) -> KerasLayer:
    if (
        pair(module.padding) != (0, 0)
        or getattr(module, "ceil_mode", False)
        or pair(getattr(module, "dilation", 1)) != (1, 1)
    ):
        raise WriterError(f"{type(module).__name__} with padding, dilation or ceil_mode has no Keras twin here")
    arguments = [(None, single(module.kernel_size))]
    if pair(module.stride) != pair(module.kernel_size):
        arguments.append(("strides", single(module.stride)))
    return KerasLayer(keras_type, tuple(arguments))


def adaptive_average(module: nn.AdaptiveAvgPool2d) -> KerasLayer:
    if pair(module.output_size) != (1, 1):
        raise WriterError(f"AdaptiveAvgPool2d({module.output_size}) has no Keras twin here; only output size 1 does")
    return KerasLayer(
        "keras.layers.GlobalAveragePooling2D", (("keepdims", True),), "(B, 1, 1, C), as torch's (B, C, 1, 1)"
    )


def gelu(module: nn.GELU) -> KerasLayer:
    if module.approximate != "none":
        raise WriterError("nn.GELU(approximate='tanh'): write keras.ops.gelu(x, approximate=True) in call instead")
    return KerasLayer("keras.layers.Activation", ((None, "gelu"),), "the exact (erf) GELU, torch's approximate='none'")


def attention(module: nn.MultiheadAttention) -> KerasLayer:
    if not module.batch_first or module.bias_k is not None or not module._qkv_same_embed_dim:
        raise WriterError(
            "nn.MultiheadAttention: only batch_first=True, without add_bias_kv or kdim/vdim, has a Keras twin here"
        )
    arguments = [(None, module.num_heads), ("key_dim", module.head_dim)]
    if module.dropout:
        arguments.append(("dropout", module.dropout))
    return KerasLayer("keras.layers.MultiHeadAttention", tuple(arguments), "called as (query, value, key)")


ACTIVATIONS = {nn.ReLU: "relu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid", nn.SiLU: "silu"}


def keras_layer(module: nn.Module, padded_at_stride_1: bool = True) -> KerasLayer:
    """The Keras layer for one of torch's own modules; a WriterError names what has none."""
    kind = type(module)
    if kind is nn.Linear:
        return KerasLayer(
            "keras.layers.Dense",
            ((None, module.out_features),) + ((("use_bias", False),) if module.bias is None else ()),
        )
    if kind is nn.Conv2d:
        return conv2d(module, padded_at_stride_1)
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return batch_norm(module)
    if kind is nn.LayerNorm:
        return layer_norm(module)
    if kind in (nn.LSTM, nn.GRU):
        return recurrent(module)
    if kind is nn.Dropout:
        return KerasLayer("keras.layers.Dropout", ((None, module.p),))
    if kind is nn.MaxPool2d:
        return pool(module, "keras.layers.MaxPooling2D")
    if kind is nn.AvgPool2d:
        return pool(module, "keras.layers.AveragePooling2D")
    if kind is nn.AdaptiveAvgPool2d:
        return adaptive_average(module)
    if kind is nn.Flatten and (module.start_dim, module.end_dim) == (1, -1):
        return KerasLayer(
            "keras.layers.Flatten", (), "(h, w, c) order, torch's (c, h, w): the port permutes the next Dense's rows"
        )
    if kind is nn.Embedding:
        return KerasLayer("keras.layers.Embedding", ((None, module.num_embeddings), (None, module.embedding_dim)))
    if kind is nn.GELU:
        return gelu(module)
    if kind in ACTIVATIONS:
        return KerasLayer("keras.layers.Activation", ((None, ACTIVATIONS[kind]),))
    if kind is nn.Identity:
        return KerasLayer("keras.layers.Identity", ())
    if kind is nn.MultiheadAttention:
        return attention(module)
    raise WriterError(f"torch's {kind.__name__} has no Keras twin in the writer")


# Modules whose output keeps the input's image layout.
MAP_TO_MAP = (
    nn.Conv2d,
    nn.BatchNorm2d,
    nn.MaxPool2d,
    nn.AvgPool2d,
    nn.AdaptiveAvgPool2d,
    nn.Dropout,
    nn.Identity,
    *ACTIVATIONS,
    nn.GELU,
)
RESHAPING = ("flatten", "view", "reshape", "permute", "transpose", "__getitem__", "squeeze", "unsqueeze")


def output_layout(event: Event) -> list[str] | None:
    """The layout of each tensor the event returns; None to keep what the module's own forward set."""
    if event.is_module:
        module = event.func
        if is_own(module) or isinstance(module, (nn.Sequential, nn.ModuleList)):
            return None
        if isinstance(module, nn.RNNBase):
            return [SAME, STACKED, STACKED] if isinstance(module, nn.LSTM) else [SAME, STACKED]
        if isinstance(module, MAP_TO_MAP) and NCHW in event.layouts:
            return [NCHW]
        return [SAME]
    name = getattr(event.func, "__name__", "")
    four_d = isinstance(event.output, torch.Tensor) and event.output.ndim == 4
    if NCHW in event.layouts and four_d and name not in RESHAPING:
        return [NCHW]
    return [SAME]
