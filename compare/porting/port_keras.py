"""Keras model ⇄ framework-neutral state dict (torch layout, see compare.porting.weights).

Porting goes by layer type: each Keras layer type has one `Port` (the torch names of its
weights and a converter each way), and every layout rule is written where it is applied.
A Keras layer is matched with a torch module by name when the twins mirror their
attribute names (`model.blocks[0].conv_1` ⇄ `blocks.0.conv_1`), otherwise by order, with
each pair's weight names checked. `register_port` adds a layer type from outside.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import keras
import numpy as np

from compare.porting import misfits
from compare.porting.misfits import OrderMismatch, UnportableLayer
from compare.porting.weights import LAYOUT, PortingError, StateDict, check_shape, layouts, weights_only

Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class Where:
    """Where a port works: the Keras layer's path, the torch module's, and, for the first
    Dense after a Flatten of a feature map, that map's shape (C, H, W) in torch."""

    path: str
    prefix: str
    flattened_from: tuple[int, int, int] | None = None


@dataclass(frozen=True)
class Port:
    names: Callable[[keras.layers.Layer], tuple[str, ...]]  # the torch module's weight names
    to_torch: Callable[[keras.layers.Layer, Where], Arrays]
    from_torch: Callable[[keras.layers.Layer, Arrays, Where], None]


def value(variable) -> np.ndarray:
    return keras.ops.convert_to_numpy(variable).astype(np.float32)


def full_name(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if name else prefix


def assign(variable, array: np.ndarray, name: str, where: Where) -> None:
    check_shape(full_name(where.prefix, name), tuple(variable.shape), array.shape, where.path)
    variable.assign(array)


def with_bias(layer) -> tuple[str, ...]:
    return ("weight", "bias") if layer.use_bias else ("weight",)


# --- Dense ⇄ Linear: kernel (in, out) is the transpose of weight (out, in). After a Flatten
# of a feature map the inputs are ordered (h, w, c) in Keras (NHWC) and (c, h, w) in torch
# (NCHW): the same weights, with the kernel's rows permuted.
def hwc_rows(weight: np.ndarray, chw: tuple[int, int, int]) -> np.ndarray:
    """torch weight (out, C·H·W) → Keras kernel (H·W·C, out)."""
    c, h, w = chw
    return weight.T.reshape(c, h, w, -1).transpose(1, 2, 0, 3).reshape(h * w * c, -1)


def chw_columns(kernel: np.ndarray, chw: tuple[int, int, int]) -> np.ndarray:
    """Keras kernel (H·W·C, out) → torch weight (out, C·H·W)."""
    c, h, w = chw
    return kernel.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(c * h * w, -1).T


def dense_to_torch(layer, where: Where) -> Arrays:
    kernel = value(layer.kernel)
    weight = chw_columns(kernel, where.flattened_from) if where.flattened_from else kernel.T
    return {"weight": weight, **({"bias": value(layer.bias)} if layer.use_bias else {})}


def dense_from_torch(layer, w: Arrays, where: Where) -> None:
    weight = w["weight"]
    kernel = hwc_rows(weight, where.flattened_from) if where.flattened_from else weight.T
    assign(layer.kernel, kernel, "weight", where)
    if layer.use_bias:
        assign(layer.bias, w["bias"], "bias", where)


# --- Conv2D ⇄ Conv2d: kernel HWIO (kh, kw, in, out) ⇄ weight OIHW (out, in, kh, kw).
def conv_to_torch(layer, where: Where) -> Arrays:
    bias = {"bias": value(layer.bias)} if layer.use_bias else {}
    return {"weight": value(layer.kernel).transpose(3, 2, 0, 1), **bias}


def conv_from_torch(layer, w: Arrays, where: Where) -> None:
    assign(layer.kernel, w["weight"].transpose(2, 3, 1, 0), "weight", where)
    if layer.use_bias:
        assign(layer.bias, w["bias"], "bias", where)


# --- BatchNormalization ⇄ BatchNorm1d/2d: gamma/beta/moving stats ⇄ weight/bias/running stats.
BN_NAMES = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}


def batch_norm_names(layer) -> tuple[str, ...]:
    affine = {"weight": layer.scale, "bias": layer.center}
    return tuple(name for name in BN_NAMES if affine.get(name, True))


def batch_norm_to_torch(layer, where: Where) -> Arrays:
    return {name: value(getattr(layer, BN_NAMES[name])) for name in batch_norm_names(layer)}


def batch_norm_from_torch(layer, w: Arrays, where: Where) -> None:
    for name in batch_norm_names(layer):
        assign(getattr(layer, BN_NAMES[name]), w[name], name, where)


# --- LayerNormalization ⇄ LayerNorm: gamma/beta ⇄ weight/bias.
def layer_norm_to_torch(layer, where: Where) -> Arrays:
    return {"weight": value(layer.gamma), "bias": value(layer.beta)}


def layer_norm_from_torch(layer, w: Arrays, where: Where) -> None:
    assign(layer.gamma, w["weight"], "weight", where)
    assign(layer.beta, w["bias"], "bias", where)


# --- Embedding ⇄ Embedding: the same (vocabulary, dimension) table.
def embedding_to_torch(layer, where: Where) -> Arrays:
    return {"weight": value(layer.embeddings)}


def embedding_from_torch(layer, w: Arrays, where: Where) -> None:
    assign(layer.embeddings, w["weight"], "weight", where)


# --- MultiHeadAttention ⇄ nn.MultiheadAttention. Keras keeps one kernel per
# projection, split by head: query/key/value (d_model, heads, head_dim), output
# (heads, head_dim, d_model). torch packs q, k, v into in_proj_weight
# (3·d_model, d_model), rows ordered q then k then v, head by head, and keeps
# out_proj as a Linear (d_model, d_model).
ATTENTION_NAMES = ("in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias")


def projections(layer) -> tuple:
    return layer.query_dense, layer.key_dense, layer.value_dense


def attention_to_torch(layer, where: Where) -> Arrays:
    d_model = layer.query_dense.kernel.shape[0]
    return {
        "in_proj_weight": np.concatenate([value(p.kernel).reshape(d_model, -1).T for p in projections(layer)]),
        "in_proj_bias": np.concatenate([value(p.bias).reshape(-1) for p in projections(layer)]),
        "out_proj.weight": value(layer.output_dense.kernel).reshape(-1, d_model).T,
        "out_proj.bias": value(layer.output_dense.bias),
    }


def attention_from_torch(layer, w: Arrays, where: Where) -> None:
    d_model = layer.query_dense.kernel.shape[0]
    kernels = np.split(w["in_proj_weight"], 3)  # q, k, v: each (heads·head_dim, d_model)
    biases = np.split(w["in_proj_bias"], 3)
    for dense, kernel, bias in zip(projections(layer), kernels, biases):
        heads, head_dim = dense.kernel.shape[1:]
        assign(dense.kernel, kernel.T.reshape(d_model, heads, head_dim), "in_proj_weight", where)
        assign(dense.bias, bias.reshape(heads, head_dim), "in_proj_bias", where)
    out = layer.output_dense
    assign(out.kernel, w["out_proj.weight"].T.reshape(out.kernel.shape), "out_proj.weight", where)
    assign(out.bias, w["out_proj.bias"], "out_proj.bias", where)


# --- LSTM ⇄ nn.LSTM. kernel (in, 4u) ⇄ weight_ih_l0 (4u, in); recurrent_kernel
# (u, 4u) ⇄ weight_hh_l0 (4u, u). Both order the gates input, forget, cell
# (torch: "g"), output, so no rows move. Keras has one bias; torch adds two:
# Keras → torch puts it all in bias_ih and zeros in bias_hh, torch → Keras sums.
RNN_NAMES = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")


def lstm_to_torch(layer, where: Where) -> Arrays:
    cell = layer.cell
    bias = value(cell.bias)
    return dict(zip(RNN_NAMES, (value(cell.kernel).T, value(cell.recurrent_kernel).T, bias, np.zeros_like(bias))))


def lstm_from_torch(layer, w: Arrays, where: Where) -> None:
    cell = layer.cell
    assign(cell.kernel, w["weight_ih_l0"].T, "weight_ih_l0", where)
    assign(cell.recurrent_kernel, w["weight_hh_l0"].T, "weight_hh_l0", where)
    check_shape(f"{where.prefix}.bias_hh_l0", w["bias_ih_l0"].shape, w["bias_hh_l0"].shape, where.path)
    assign(cell.bias, w["bias_ih_l0"] + w["bias_hh_l0"], "bias_ih_l0", where)


# --- GRU ⇄ nn.GRU, Keras' default reset_after=True (torch's equations). Keras orders the
# gates update z, reset r, candidate h; torch orders reset r, update z, new n: the first
# two blocks of rows swap. Keras' bias (2, 3u) is torch's (bias_ih, bias_hh).
def swap_first_two_gates(matrix: np.ndarray) -> np.ndarray:
    first, second, third = np.split(matrix, 3, axis=-1)
    return np.concatenate([second, first, third], axis=-1)


def gru_to_torch(layer, where: Where) -> Arrays:
    cell = layer.cell
    if not cell.reset_after:
        raise PortingError(f"{where.path}: a GRU with reset_after=False has no torch twin; use reset_after=True.")
    kernel, recurrent, bias = (swap_first_two_gates(value(v)) for v in (cell.kernel, cell.recurrent_kernel, cell.bias))
    return dict(zip(RNN_NAMES, (kernel.T, recurrent.T, bias[0], bias[1])))


def gru_from_torch(layer, w: Arrays, where: Where) -> None:
    cell = layer.cell
    assign(cell.kernel, swap_first_two_gates(w["weight_ih_l0"].T), "weight_ih_l0", where)
    assign(cell.recurrent_kernel, swap_first_two_gates(w["weight_hh_l0"].T), "weight_hh_l0", where)
    bias = swap_first_two_gates(np.stack([w["bias_ih_l0"], w["bias_hh_l0"]]))
    assign(cell.bias, bias, "bias_ih_l0", where)


def fixed(*names: str) -> Callable[[keras.layers.Layer], tuple[str, ...]]:
    return lambda layer: names


# Keras layer type → its port; looked up through the layer's class hierarchy, so a
# port registered for a subclass takes precedence over its parent's.
PORTS: dict[type, Port] = {
    keras.layers.Dense: Port(with_bias, dense_to_torch, dense_from_torch),
    keras.layers.Conv2D: Port(with_bias, conv_to_torch, conv_from_torch),
    keras.layers.BatchNormalization: Port(batch_norm_names, batch_norm_to_torch, batch_norm_from_torch),
    keras.layers.LayerNormalization: Port(fixed("weight", "bias"), layer_norm_to_torch, layer_norm_from_torch),
    keras.layers.Embedding: Port(fixed("weight"), embedding_to_torch, embedding_from_torch),
    keras.layers.MultiHeadAttention: Port(fixed(*ATTENTION_NAMES), attention_to_torch, attention_from_torch),
    keras.layers.LSTM: Port(fixed(*RNN_NAMES), lstm_to_torch, lstm_from_torch),
    keras.layers.GRU: Port(fixed(*RNN_NAMES), gru_to_torch, gru_from_torch),
}


def register_port(layer_type: type, names, to_torch, from_torch) -> None:
    """Port a Keras layer type: `names(layer)` lists the twin torch module's state_dict
    names, `to_torch(layer, where)` returns those arrays in torch layout, and
    `from_torch(layer, arrays, where)` assigns them (see `Where`). A layer that needs one is
    named with its weights and the call to write (compare.porting.misfits)."""
    if not (isinstance(layer_type, type) and issubclass(layer_type, keras.layers.Layer)):
        raise TypeError(f"register_port: layer_type must be a Keras Layer class. Received: {layer_type!r}")
    PORTS[layer_type] = Port(names, to_torch, from_torch)


def port_for(layer) -> Port | None:
    return next((PORTS[t] for t in type(layer).__mro__ if t in PORTS), None)


def is_keras_own(layer) -> bool:
    return type(layer).__module__.split(".")[0] == "keras"


def held_layers(item) -> dict[str, keras.layers.Layer] | None:
    """The layers a list, tuple or dict attribute holds, by their torch-style names (a list's
    index, as nn.ModuleList names them; a dict's key, as nn.ModuleDict); None for anything else."""
    if isinstance(item, dict):
        named = dict(item.items())
    else:
        named = dict(enumerate(item)) if isinstance(item, list | tuple) else {}
    if named and all(isinstance(x, keras.layers.Layer) for x in named.values()):
        return {str(key): layer for key, layer in named.items()}
    return None


def held_weights(item) -> list:
    """The variables an attribute holds: itself, a layer's, or the layers' of a list or dict."""
    if isinstance(item, keras.Variable):
        return [item]
    if isinstance(item, keras.layers.Layer):
        return item.weights
    return [w for layer in (held_layers(item) or {}).values() for w in layer.weights]


def public_attributes(layer) -> list[str]:
    """A layer's attribute names that do not start with "_"."""
    # On the torch backend a Keras layer is also an nn.Module, which keeps its
    # sublayers as named children rather than in the instance dict.
    children = [name for name, _ in layer.named_children()] if hasattr(layer, "named_children") else []
    return [name for name in dict.fromkeys([*vars(layer), *children]) if not name.startswith("_")]


def sublayer_names(layer) -> list[str]:
    """The public attributes holding weights, in the order Keras tracked them (the order of
    `layer.weights`), which is the order they were assigned, as in the torch twin."""
    names = public_attributes(layer)
    position = {id(variable): i for i, variable in enumerate(layer.weights)}
    held = {name: [position[id(w)] for w in held_weights(getattr(layer, name)) if id(w) in position] for name in names}
    return sorted((name for name in names if held[name]), key=lambda name: min(held[name]))


def weighted_parts(layer, prefix: str = "") -> Iterator[tuple[str, object]]:
    """(torch-style path, leaf layer or own Variable) for every weight holder, found
    through the public attributes the twins share, in the order they were assigned."""
    for name in sublayer_names(layer):
        item = getattr(layer, name)
        path = f"{prefix}{name}"
        if isinstance(item, keras.Variable):
            yield path, item  # a layer's own weight, e.g. PatchEmbedding.position
        elif isinstance(item, keras.layers.Layer):
            yield from leaf_parts(item, path)
        else:
            for key, sub in (held_layers(item) or {}).items():
                yield from leaf_parts(sub, f"{path}.{key}")


def is_container(layer) -> bool:
    """keras.Sequential and other Keras models: layers whose weights are their `layers`'."""
    return isinstance(layer, keras.Model) and is_keras_own(layer)


def leaf_parts(layer, path: str) -> Iterator[tuple[str, object]]:
    if not layer.weights:
        return  # Dropout, MaxPooling2D: nothing to port
    if port_for(layer):
        yield path, layer
    elif is_container(layer):  # keras.Sequential ⇄ nn.Sequential: its layers by index
        for i, sub in enumerate(layer.layers):
            yield from leaf_parts(sub, f"{path}.{i}")
    elif is_keras_own(layer):
        raise UnportableLayer(misfits.no_port(layer, path), path, layer)
    else:
        yield from weighted_parts(layer, f"{path}.")  # a block of the user's: port what it holds


def part_names(part) -> tuple[str, ...]:
    """The torch names of one part's weights, relative to its module: "" for a Variable."""
    return ("",) if isinstance(part, keras.Variable) else tuple(port_for(part).names(part))


def match(parts: list[tuple[str, object]], state: StateDict) -> dict[str, str]:
    """Keras path → torch module path. By name when the twins share every layer's name; by order
    when they share none, or only some (a Sequential with its activations as modules on torch's
    side only) and the order fits; otherwise by name, so that a missing or extra layer is reported
    by its name."""
    named = [all(full_name(path, n) in state for n in part_names(part)) for path, part in parts]
    by_name = {path: path for path, _ in parts}
    if all(named):
        return by_name
    try:
        return match_by_order(parts, state)
    except OrderMismatch:
        if any(named):
            return by_name
        raise


def match_by_order(parts: list[tuple[str, object]], state: StateDict) -> dict[str, str]:
    """Each weight holder takes the next torch weights, whose names must end as its own do."""
    keys = list(weights_only(state))
    matched, cursor = {}, 0
    for path, part in parts:
        names = part_names(part)
        kind = "Variable" if isinstance(part, keras.Variable) else type(part).__name__
        key = keys[cursor] if cursor < len(keys) else None
        suffix = next((n for n in names if key and (key == n or key.endswith(f".{n}"))), None)
        prefix = key if suffix == "" else key[: -len(suffix) - 1] if suffix else None
        expected = [full_name(prefix, n) for n in names] if prefix is not None else []
        if prefix is None or keys[cursor : cursor + len(names)] != expected:
            found = keys[cursor : cursor + len(names)] or "nothing"
            raise OrderMismatch(
                f"the layer names differ, so the layers are matched by order: Keras layer {path!r} ({kind}) "
                f"expects torch weights named {list(names)}, and the next torch weights are {found}. Give the "
                "twins the same attribute names, or the same order of layers with weights.",
                path,
                part,
                key,
            )
        matched[path], cursor = prefix, cursor + len(names)
    return matched


def where(path: str, prefix: str, state: StateDict) -> Where:
    chw = layouts(state).get(prefix)
    return Where(path, prefix, tuple(int(n) for n in chw) if chw is not None else None)


def build_model(model, input_shape: tuple[int | None, ...]) -> None:
    """Create a model's weights: its own `build` if it has one, else (Keras' default `build` does
    not build the layers of a subclassed model) one call on a batch of zeros."""
    if any("build" in vars(cls) for cls in type(model).__mro__ if cls.__module__.split(".")[0] != "keras"):
        model.build(input_shape)
    if not model.weights:
        model(keras.ops.zeros((1, *input_shape[1:])), training=False)


def keras_to_state(model, like: StateDict | None = None) -> StateDict:
    """The model's weights in torch layout. Named as `like` names them (a state of the
    torch twin), which also says where a Flatten reorders rows; else by the Keras paths."""
    parts = list(weighted_parts(model))
    prefixes = match(parts, like) if like is not None else {path: path for path, _ in parts}
    state: StateDict = {f"{LAYOUT}{prefix}": chw for prefix, chw in layouts(like or {}).items()}
    for path, part in parts:
        prefix = prefixes[path]
        if isinstance(part, keras.Variable):
            state[prefix] = value(part)
        else:
            arrays = port_for(part).to_torch(part, where(path, prefix, state))
            state.update({full_name(prefix, name): array for name, array in arrays.items()})
    return state


def ported_parts(state: StateDict, model) -> tuple[list[tuple[str, object]], dict[str, str]]:
    """The model's weight holders and the torch module each takes its weights from; a holder that
    cannot take them is named, with its weights, the torch module's and how to port it."""
    try:
        parts = list(weighted_parts(model))
    except UnportableLayer as error:
        raise UnportableLayer(misfits.unported(error.layer, error.path, state), error.path, error.layer) from None
    if not parts and state:
        raise PortingError(f"{type(model).__name__} has no weights yet: build it first, e.g. model.build(shape).")
    try:
        prefixes = match(parts, state)
    except OrderMismatch as error:
        if not isinstance(error.part, keras.Variable) or error.torch_key is None:
            raise
        module = error.torch_key.rpartition(".")[0]
        raise PortingError(f"{error} {misfits.own_weight_misfit(model, error.path, state, module)}") from None
    wanted = [full_name(prefixes[p], n) for p, part in parts for n in part_names(part)]
    unexpected = sorted(set(weights_only(state)) - set(wanted))
    if unexpected:
        unmatched = [p for p, part in parts if isinstance(part, keras.Variable) and prefixes[p] not in state]
        hints = " ".join(misfits.own_weight_misfit(model, path, state) for path in unmatched)
        raise PortingError(f"{type(model).__name__}: weights with no place in the model: {unexpected}. {hints}".strip())
    return parts, prefixes


def state_to_keras(state: StateDict, model) -> None:
    """Assign a torch-layout state (see compare.porting.weights) to a built Keras model."""
    parts, prefixes = ported_parts(state, model)
    for path, part in parts:  # in the model's order, so the first misfit is the one reported
        prefix = prefixes[path]
        missing = [name for name in (full_name(prefix, n) for n in part_names(part)) if name not in state]
        if missing:
            raise PortingError(f"{type(model).__name__}: no weights for {missing} (layer {path!r}).")
        if isinstance(part, keras.Variable):
            assign(part, state[prefix], "", Where(path, prefix))
        else:
            arrays = {name: state[full_name(prefix, name)] for name in part_names(part)}
            port_for(part).from_torch(part, arrays, where(path, prefix, state))
