"""When twins disagree: the framework differences this project measures (compare.lessons.differences),
tried one kind at a time on a copy of the Keras twin, and the one that brings the numbers within
tolerance named with its layers and the fix in the user's terms. The user's files are never changed:
each try builds new twins from the declaration, ports the weights, then changes the Keras copy.

Imports Keras and torch; runs in the check's child (compare.lessons.twins_check).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import keras
import torch

from compare.catalog.registry import ModelSpec
from compare.lessons import parity
from compare.porting.port_keras import match, weighted_parts
from compare.porting.port_torch import torch_to_state

Change = Callable[[keras.layers.Layer, torch.nn.Module], None]  # a Keras layer, made to act as its torch module


@dataclass(frozen=True)
class Suspect:
    """One kind of difference, where it applies: per Keras layer path, the fix in words, and
    how to make that layer of a Keras copy behave as torch's does."""

    kind: str
    advice: dict[str, str]  # Keras layer path → the fix, in the user's terms
    changes: tuple[tuple[str, Change], ...] = ()  # (Keras layer path, its change)
    during: Callable[[], contextlib.AbstractContextManager] = field(default=contextlib.nullcontext)

    def adjust(self, keras_model: keras.Model, torch_model: torch.nn.Module) -> None:
        matched = {path: (layer, module) for path, layer, module in pairs(keras_model, torch_model)}
        for path, change in self.changes:
            change(*matched[path])

    def words(self) -> str:
        return "; ".join(f"`{path}`: {advice}" for path, advice in self.advice.items())


def pairs(keras_model: keras.Model, torch_model: torch.nn.Module) -> Iterator[tuple[str, object, torch.nn.Module]]:
    """(Keras path, Keras layer, its torch module) for every layer the port matched."""
    parts = [(path, part) for path, part in weighted_parts(keras_model) if not isinstance(part, keras.Variable)]
    prefixes = match(parts, torch_to_state(torch_model))
    for path, layer in parts:
        yield path, layer, torch_model.get_submodule(prefixes[path])


def pads_like_torch(layer: keras.layers.Conv2D, module: torch.nn.Conv2d) -> None:
    """Symmetric zero padding before a 'valid' convolution, as torch's padding=p computes."""
    pad_h, pad_w = module.padding
    convolve = layer.call
    layer.padding = "valid"
    layer.call = lambda inputs, *args, **kwargs: convolve(
        keras.ops.pad(inputs, [[0, 0], [pad_h, pad_h], [pad_w, pad_w], [0, 0]]), *args, **kwargs
    )


def same_padding_at_stride(layer, module) -> str | None:
    strided = max(getattr(layer, "strides", (1,))) > 1 and getattr(layer, "padding", "") == "same"
    if not (strided and isinstance(module, torch.nn.Conv2d) and not isinstance(module.padding, str)):
        return None
    pad = module.padding[0]
    return (
        f"Keras pads 'same' at stride {layer.strides[0]} on the bottom and right only, torch's padding={pad} on "
        f"every side; use `keras.layers.ZeroPadding2D({pad})` then `padding='valid'`"
    )


def epsilon_differs(keras_type: type, torch_type: type, name: str):
    def advice(layer, module) -> str | None:
        if not (isinstance(layer, keras_type) and isinstance(module, torch_type)) or layer.epsilon == module.eps:
            return None
        return f"Keras' {name} epsilon is {layer.epsilon:g}, torch's {module.eps:g}; pass `epsilon={module.eps:g}`"

    return advice


def momentum_differs(layer, module) -> str | None:
    if not (isinstance(layer, BATCH_NORM[0]) and isinstance(module, BATCH_NORM[1])):
        return None
    if abs(layer.momentum - (1 - module.momentum)) < 1e-9:
        return None
    return (
        f"Keras' momentum {layer.momentum:g} weighs the old running statistic, torch's {module.momentum:g} the "
        f"new batch one; pass `momentum={1 - module.momentum:g}`"
    )


def set_epsilon(layer, module) -> None:
    layer.epsilon = module.eps


def set_momentum(layer, module) -> None:
    layer.momentum = 1 - module.momentum


@contextlib.contextmanager
def exact_gelu() -> Iterator[None]:
    """keras.ops.gelu computes torch's exact GELU while the copy runs, whatever `approximate` says."""
    tanh_by_default = keras.ops.gelu
    keras.ops.gelu = lambda x, approximate=True: tanh_by_default(x, approximate=False)
    try:
        yield
    finally:
        keras.ops.gelu = tanh_by_default


GELU = Suspect(
    "GELU's approximation",
    {"keras.ops.gelu": "approximates with tanh unless told otherwise, torch's GELU is exact; pass `approximate=False`"},
    during=exact_gelu,
)
BATCH_NORM = (keras.layers.BatchNormalization, torch.nn.modules.batchnorm._BatchNorm)


def suspect(kind: str, advise, change: Change, twins: tuple[keras.Model, torch.nn.Module]) -> Suspect:
    """The difference `kind` at every matched layer where `advise` has words for it."""
    advice = {path: words for path, layer, module in pairs(*twins) if (words := advise(layer, module))}
    return Suspect(kind, advice, tuple((path, change) for path in advice))


def forward_suspects(spec: ModelSpec) -> list[Suspect]:
    """The differences that change a forward pass, where the twins' layers show them."""
    twins = parity.twins(spec, seed=0)
    batch_norm = epsilon_differs(*BATCH_NORM, "BatchNormalization")
    layer_norm = epsilon_differs(keras.layers.LayerNormalization, torch.nn.LayerNorm, "LayerNormalization")
    found = [
        suspect("stride-2 'same' padding", same_padding_at_stride, pads_like_torch, twins),
        suspect("BatchNorm epsilon", batch_norm, set_epsilon, twins),
        suspect("LayerNorm epsilon", layer_norm, set_epsilon, twins),
    ]
    return [s for s in found if s.advice] + [GELU]


def step_suspects(spec: ModelSpec) -> list[Suspect]:
    """The forward's, and BatchNorm's momentum convention, which moves the running statistics."""
    momentum = suspect("BatchNorm momentum", momentum_differs, set_momentum, parity.twins(spec, seed=0))
    return forward_suspects(spec) + ([momentum] if momentum.advice else [])


def together(suspects: list[Suspect]) -> Suspect:
    """Every suspect's change at once, for twins that fell into several."""

    @contextlib.contextmanager
    def all_during() -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            for each in suspects:
                stack.enter_context(each.during())
            yield

    advice: dict[str, str] = {}
    for each in suspects:
        for path, words in each.advice.items():
            advice[path] = f"{advice[path]}; {words}" if path in advice else words
    return Suspect(
        " and ".join(s.kind for s in suspects),
        advice,
        tuple(change for s in suspects for change in s.changes),
        all_during,
    )


def explain(measure: Callable[[parity.Adjust | None], dict], suspects: list[Suspect]) -> str:
    """The suspect whose fix, on a copy of the Keras twin, brings `measure` within tolerance, in
    words; or that no known difference does."""
    for each in suspects:
        with each.during():
            if measure(each.adjust)["passed"]:
                return f"likely cause: {each.kind}. {each.words()}"
    real = [s for s in suspects if s is not GELU]  # several layers' conventions at once
    if len(real) > 1:
        combined = together(real)
        with combined.during():
            if measure(combined.adjust)["passed"]:
                return f"likely cause: {combined.kind}, together. {combined.words()}"
    tried = ", ".join(s.kind for s in suspects)
    return f"no known framework difference explains it (tried on a copy of the Keras twin: {tried})"
