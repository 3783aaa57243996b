"""When the twins' weights do not fit: which Keras layer, which weights on each side with their
shapes, and what to write so that they port (the `register_port` call). Imports Keras."""

from __future__ import annotations

import keras

from compare.porting.weights import PortingError, StateDict, weights_only


class UnportableLayer(PortingError):
    """A Keras layer with weights and no port; the message says how to register one."""

    def __init__(self, message: str, path: str = "", layer=None):
        super().__init__(message)
        self.path, self.layer = path, layer


class OrderMismatch(PortingError):
    """Matching by order met a Keras weight holder (at `path`) that the next torch weights do not fit."""

    def __init__(self, message: str, path: str, part, torch_key: str | None):
        super().__init__(message)
        self.path, self.part, self.torch_key = path, part, torch_key


REGISTER_CALL = (
    "compare.porting.register_port({type}, names=lambda layer: {names}, "
    "to_torch=lambda layer, where: {{<each of those names: its array as torch holds it>}}, "
    "from_torch=lambda layer, arrays, where: <assign each array to the layer's weight>)"
)


def layer_at(model, path: str):
    """The layer at a torch-style path of the Keras model: attribute names, list indices and
    dict keys, and a keras.Sequential's layers by index."""
    layer = model
    for part in filter(None, path.split(".")):
        if isinstance(layer, keras.Model) and type(layer).__module__.startswith("keras") and part.isdigit():
            layer = layer.layers[int(part)]
        elif isinstance(layer, list | tuple):
            layer = layer[int(part)]
        elif isinstance(layer, dict):
            layer = layer[part]
        else:
            layer = getattr(layer, part)
    return layer


def shapes(pairs: list[tuple[str, tuple[int, ...]]]) -> str:
    return ", ".join(f"{name} {shape}" for name, shape in pairs) or "nothing"


def keras_weights(layer) -> list[tuple[str, tuple[int, ...]]]:
    return [(variable.path.rsplit("/", 1)[-1], tuple(variable.shape)) for variable in layer.weights]


def torch_weights(state: StateDict, prefix: str) -> list[tuple[str, tuple[int, ...]]]:
    """The torch weights under module `prefix`, by their names relative to it."""
    start = f"{prefix}." if prefix else ""
    weights = weights_only(state).items()
    return [(name[len(start) :], tuple(array.shape)) for name, array in weights if name.startswith(start)]


def kind(layer) -> str:
    module = type(layer).__module__
    return f"keras.layers.{type(layer).__name__}" if module.split(".")[0] == "keras" else type(layer).__name__


def register_call(layer, torch_names: list[str]) -> str:
    return REGISTER_CALL.format(type=kind(layer), names=tuple(torch_names))


def no_port(layer, path: str) -> str:
    """A Keras layer type with weights that no port converts, and the call that would."""
    return (
        f"layer {path!r} ({kind(layer)}) has weights and no port to torch; register one: "
        f"{register_call(layer, ['<the torch module state_dict names>'])}; see compare/porting/port_keras.py "
        "for the built-in ones"
    )


def unported(layer, path: str, state: StateDict, torch_prefix: str | None = None, why: str = "") -> str:
    """The Keras layer at `path`, its weights and the torch module's, and the register_port call
    that would port it."""
    module = path if torch_prefix is None else torch_prefix
    torch_side = torch_weights(state, module)
    names = [name for name, _ in torch_side] or ["<the torch module state_dict names>"]
    why = why or "has weights and no port to torch"
    return (
        f"layer {path!r} ({kind(layer)}) {why}: it holds {shapes(keras_weights(layer))}; torch's module "
        f"{module!r} holds {shapes(torch_side)}. Port it, in the twins file: {register_call(layer, names)}; "
        "or give the weights the same names and shapes on both sides."
    )


def own_weight_misfit(model, variable_path: str, state: StateDict, torch_prefix: str | None = None) -> str:
    """A weight a layer of the user's holds itself, which no torch weight matches: its layer named."""
    owner = variable_path.rpartition(".")[0]
    why = "holds weights of its own that no torch weight matches by name"
    return unported(layer_at(model, owner), owner, state, torch_prefix, why)
