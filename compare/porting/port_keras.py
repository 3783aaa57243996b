"""Keras model ⇄ framework-neutral state dict (torch layout, see compare.porting.weights).

The twins share attribute names, so a Keras layer's torch name is its
attribute path (`model.blocks[0].conv_1` → `blocks.0.conv_1`). Each layer type
has one converter, and every layout rule is written where it is applied.
"""

from __future__ import annotations

from collections.abc import Iterator

import keras
import numpy as np

from compare.porting.weights import PortingError, StateDict, check_shape

Arrays = dict[str, np.ndarray]


def value(variable) -> np.ndarray:
    return keras.ops.convert_to_numpy(variable).astype(np.float32)


def assign(variable, array: np.ndarray, name: str, layer: str) -> None:
    check_shape(name, tuple(variable.shape), array.shape, layer)
    variable.assign(array)


# --- Dense ⇄ Linear: kernel (in, out) is the transpose of weight (out, in).
def dense_out(layer) -> Arrays:
    return {"weight": value(layer.kernel).T, "bias": value(layer.bias)}


def dense_in(layer, w: Arrays, path: str) -> None:
    assign(layer.kernel, w["weight"].T, f"{path}.weight", path)
    assign(layer.bias, w["bias"], f"{path}.bias", path)


# --- Conv2D ⇄ Conv2d: kernel HWIO (kh, kw, in, out) ⇄ weight OIHW (out, in, kh, kw).
def conv_out(layer) -> Arrays:
    return {"weight": value(layer.kernel).transpose(3, 2, 0, 1)}


def conv_in(layer, w: Arrays, path: str) -> None:
    assign(layer.kernel, w["weight"].transpose(2, 3, 1, 0), f"{path}.weight", path)


# --- BatchNormalization ⇄ BatchNorm2d: gamma/beta/moving stats ⇄ weight/bias/running stats.
BN_NAMES = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}


def batch_norm_out(layer) -> Arrays:
    return {torch_name: value(getattr(layer, keras_name)) for torch_name, keras_name in BN_NAMES.items()}


def batch_norm_in(layer, w: Arrays, path: str) -> None:
    for torch_name, keras_name in BN_NAMES.items():
        assign(getattr(layer, keras_name), w[torch_name], f"{path}.{torch_name}", path)


# --- LayerNormalization ⇄ LayerNorm: gamma/beta ⇄ weight/bias.
def layer_norm_out(layer) -> Arrays:
    return {"weight": value(layer.gamma), "bias": value(layer.beta)}


def layer_norm_in(layer, w: Arrays, path: str) -> None:
    assign(layer.gamma, w["weight"], f"{path}.weight", path)
    assign(layer.beta, w["bias"], f"{path}.bias", path)


# --- MultiHeadAttention ⇄ nn.MultiheadAttention. Keras keeps one kernel per
# projection, split by head: query/key/value (d_model, heads, head_dim), output
# (heads, head_dim, d_model). torch packs q, k, v into in_proj_weight
# (3·d_model, d_model), rows ordered q then k then v, head by head, and keeps
# out_proj as a Linear (d_model, d_model).
QKV = ("_query_dense", "_key_dense", "_value_dense")


def attention_out(layer) -> Arrays:
    d_model = layer._query_dense.kernel.shape[0]
    out = layer._output_dense
    return {
        "in_proj_weight": np.concatenate([value(getattr(layer, p).kernel).reshape(d_model, -1).T for p in QKV]),
        "in_proj_bias": np.concatenate([value(getattr(layer, p).bias).reshape(-1) for p in QKV]),
        "out_proj.weight": value(out.kernel).reshape(-1, d_model).T,
        "out_proj.bias": value(out.bias),
    }


def attention_in(layer, w: Arrays, path: str) -> None:
    d_model = layer._query_dense.kernel.shape[0]
    kernels = np.split(w["in_proj_weight"], 3)  # q, k, v: each (heads·head_dim, d_model)
    biases = np.split(w["in_proj_bias"], 3)
    for part, kernel, bias in zip(QKV, kernels, biases):
        dense = getattr(layer, part)
        heads, head_dim = dense.kernel.shape[1:]
        assign(dense.kernel, kernel.T.reshape(d_model, heads, head_dim), f"{path}.in_proj_weight", path)
        assign(dense.bias, bias.reshape(heads, head_dim), f"{path}.in_proj_bias", path)
    out = layer._output_dense
    assign(out.kernel, w["out_proj.weight"].T.reshape(out.kernel.shape), f"{path}.out_proj.weight", path)
    assign(out.bias, w["out_proj.bias"], f"{path}.out_proj.bias", path)


# --- LSTM ⇄ nn.LSTM. kernel (in, 4u) ⇄ weight_ih_l0 (4u, in); recurrent_kernel
# (u, 4u) ⇄ weight_hh_l0 (4u, u). Both order the gates input, forget, cell
# (torch: "g"), output, so no rows move. Keras has one bias; torch adds two:
# Keras → torch puts it all in bias_ih and zeros in bias_hh, torch → Keras sums.
def lstm_out(layer) -> Arrays:
    cell = layer.cell
    bias = value(cell.bias)
    return {
        "weight_ih_l0": value(cell.kernel).T,
        "weight_hh_l0": value(cell.recurrent_kernel).T,
        "bias_ih_l0": bias,
        "bias_hh_l0": np.zeros_like(bias),
    }


def lstm_in(layer, w: Arrays, path: str) -> None:
    cell = layer.cell
    assign(cell.kernel, w["weight_ih_l0"].T, f"{path}.weight_ih_l0", path)
    assign(cell.recurrent_kernel, w["weight_hh_l0"].T, f"{path}.weight_hh_l0", path)
    check_shape(f"{path}.bias_hh_l0", w["bias_ih_l0"].shape, w["bias_hh_l0"].shape, path)
    assign(cell.bias, w["bias_ih_l0"] + w["bias_hh_l0"], f"{path}.bias_ih_l0", path)


# Keras layer type → (torch names of its weights, export, import)
CONVERTERS = {
    keras.layers.Dense: (("weight", "bias"), dense_out, dense_in),
    keras.layers.Conv2D: (("weight",), conv_out, conv_in),
    keras.layers.BatchNormalization: (tuple(BN_NAMES), batch_norm_out, batch_norm_in),
    keras.layers.LayerNormalization: (("weight", "bias"), layer_norm_out, layer_norm_in),
    keras.layers.MultiHeadAttention: (
        ("in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"),
        attention_out,
        attention_in,
    ),
    keras.layers.LSTM: (("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"), lstm_out, lstm_in),
}


def converter_for(layer):
    for layer_type, converter in CONVERTERS.items():
        if isinstance(layer, layer_type):
            return converter
    return None


def weighted_parts(layer, prefix: str = "") -> Iterator[tuple[str, object]]:
    """(torch-style path, leaf layer or own Variable) for every weight holder,
    found through the public attributes the twins share."""
    # On the torch backend a Keras layer is also an nn.Module, which keeps its
    # sublayers in `_modules` rather than in the instance dict.
    names = dict.fromkeys([*vars(layer), *getattr(layer, "_modules", {})])
    for name in names:
        if name.startswith("_"):
            continue
        item = getattr(layer, name)
        path = f"{prefix}{name}"
        if isinstance(item, keras.Variable):
            yield path, item  # a layer's own weight, e.g. PatchEmbedding.position
        elif isinstance(item, keras.layers.Layer):
            yield from leaf_parts(item, path)
        elif isinstance(item, (list, tuple)) and item and all(isinstance(x, keras.layers.Layer) for x in item):
            for i, sub in enumerate(item):
                yield from leaf_parts(sub, f"{path}.{i}")


def leaf_parts(layer, path: str) -> Iterator[tuple[str, object]]:
    if not layer.weights:
        return  # Dropout, ZeroPadding2D: nothing to port
    if converter_for(layer):
        yield path, layer
    else:
        yield from weighted_parts(layer, f"{path}.")


def keras_to_state(model) -> StateDict:
    state: StateDict = {}
    for path, part in weighted_parts(model):
        if isinstance(part, keras.Variable):
            state[path] = value(part)
        else:
            _, export, _ = converter_for(part)
            state.update({f"{path}.{name}": array for name, array in export(part).items()})
    return state


def state_to_keras(state: StateDict, model) -> None:
    used = set()
    for path, part in weighted_parts(model):
        names = [path] if isinstance(part, keras.Variable) else [f"{path}.{n}" for n in converter_for(part)[0]]
        missing = [n for n in names if n not in state]
        if missing:
            raise PortingError(f"{type(model).__name__}: no weights for {missing} (layer {path!r}).")
        used.update(names)
        if isinstance(part, keras.Variable):
            assign(part, state[path], path, path)
        else:
            converter_for(part)[2](part, {n[len(path) + 1 :]: state[n] for n in names}, path)
    unexpected = sorted(set(state) - used)
    if unexpected:
        raise PortingError(f"{type(model).__name__}: weights with no place in the model: {unexpected}.")
