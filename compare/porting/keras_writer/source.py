"""The written file: a Keras class per torch class (blocks as Layers, the whole model as a
Model), each with the torch class's name, constructor signature and attribute names, and the
`Twins` declaration that pairs the model with the torch module it was written from."""

from __future__ import annotations

import inspect
import re

import torch
from torch import nn

from compare.porting.keras_writer.constructors import attribute_lines, attribute_names, own_weights
from compare.porting.keras_writer.forward import CallWriter
from compare.porting.keras_writer.trace import Recording, WriterError, construct_recorded, is_own

HEADER = '''"""Keras 3 twin of torch's `{name}`, written by `python -m compare write-keras-twin {reference}`.

Same classes, constructor arguments and attribute names as the torch module, computing the same
function in channels-last (B, H, W, C); each torch default that differs from Keras' is passed
explicitly, with a comment. The initial weights are Keras' own (glorot_uniform kernels, zero
biases), not torch's: the checks port one model's weights into the other.
"""

import keras

from compare import Twins
'''


def parameters(cls: type) -> list[inspect.Parameter]:
    """The torch constructor's arguments; *args or **kwargs have no place in a twin's signature."""
    found = list(inspect.signature(cls.__init__).parameters.values())[1:]
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in found):
        raise WriterError(f"{cls.__name__}.__init__ takes *args or **kwargs; name every argument to write a twin")
    return found


def signature(cls: type) -> str:
    written = [p.name if p.default is p.empty else f"{p.name}={p.default!r}" for p in parameters(cls)]
    return ", ".join(["self", *written, "**kwargs"])


def code(lines: list[str]) -> str:
    """The lines without their comments."""
    return "\n".join(line.split("#")[0] for line in lines)


def derived_attributes(cls: type, holders: list[nn.Module], call: list[str], known: set[str]) -> list[str]:
    """`self.grid_size = 4`: the plain values torch computes in __init__ that the call reads."""
    lines = []
    for name in sorted(set(re.findall(r"self\.(\w+)", code(call))) - known):
        values = [getattr(m, name, None) for m in holders]
        if any(isinstance(v, (nn.Module, torch.Tensor)) or v != values[0] for v in values) or values[0] is None:
            raise WriterError(f"{cls.__name__}.{name}, read in forward, is not a value the writer can carry over")
        lines.append(f"self.{name} = {values[0]!r}  # as torch's {cls.__name__} computes it")
    return lines


def default_guard(cls: type, fixed: list[inspect.Parameter]) -> list[str]:
    """Refuse the arguments whose values the written layers do not follow (they were written from the defaults)."""
    if not fixed:
        return []
    names = ", ".join(p.name for p in fixed)
    defaults = ", ".join(repr(p.default) for p in fixed)
    received = ", ".join(f"{p.name}={{{p.name}!r}}" for p in fixed)
    test = f"{names} != {defaults}" if len(fixed) == 1 else f"({names}) != ({defaults})"
    return [
        f"# Built with other values, torch's {cls.__name__} changes in ways these layers do not follow.",
        f"if {test}:",
        "    raise ValueError(",
        f"        \"{cls.__name__} was written from torch's {cls.__name__} with these arguments' defaults; \"",
        '        "write it again from a torch module built with the values you need. "',
        f'        f"Received: {received}"',
        "    )",
    ]


def build_method(weights: list[tuple[str, tuple[int, ...]]]) -> list[str]:
    """`build` creating the weights a block holds itself (Keras builds its layers on the first call)."""
    if not weights:
        return []
    creations = [f'self.{n} = self.add_weight(shape={shape}, initializer="zeros", name="{n}")' for n, shape in weights]
    return ["def build(self, input_shape):", *("    " + line for line in creations)]


def config_method(stored: list[inspect.Parameter]) -> list[str]:
    entries = [f'        "{p.name}": self.{p.name},' for p in stored]
    return ["def get_config(self):", "    return {", "        **super().get_config(),", *entries, "    }"]


def class_source(cls: type, recording: Recording, roots: list[nn.Module], fixed: list[inspect.Parameter]) -> list[str]:
    """The Keras class, from every instance of `cls` in `roots` (the root module and its variants)."""
    holders = [m for root in roots for m in root.modules() if type(m) is cls]
    attributes = [attribute_lines(name, holders, recording) for name in attribute_names(holders)]
    writer = CallWriter(cls, recording, {a.name for a in attributes if a.padded})
    call = writer.call_method()
    arguments = parameters(cls)
    names = {a.name for a in attributes} | {f"{a.name}_padding" for a in attributes if a.padded}
    stored = [p for p in arguments if p.name not in names]
    weights = own_weights(holders)
    known = names | {p.name for p in stored} | {n for n, _ in weights}
    layer_lines = [*derived_attributes(cls, holders, call, known), *(line for a in attributes for line in a.lines)]
    is_root = cls is type(recording.root)
    base = "keras.Model" if is_root else "keras.layers.Layer"
    init = [
        f"def __init__({signature(cls)}):",
        "    super().__init__(**kwargs)",
        *("    " + line for line in (default_guard(cls, fixed) if is_root else [])),
        *(f"    self.{p.name} = {p.name}" for p in stored),
        *("    " + line for line in layer_lines),
    ]
    members = [init, build_method(weights), call, config_method(stored)]
    doc = (inspect.getdoc(cls) or f"Twin of torch's {cls.__name__}.").splitlines()[0]
    body = [f'"""{doc}"""'] + [line for member in members if member for line in ["", *member]]
    return [
        '@keras.saving.register_keras_serializable(package="keras_twins")',
        f"class {cls.__name__}({base}):",
        *(f"    {line}" if line else "" for line in body),
    ]


def own_classes(root: nn.Module) -> list[type]:
    """The user's module classes inside `root`, each after the classes it holds, the root last."""
    order: list[type] = []

    def visit(module: nn.Module) -> None:
        for child in module.children():
            visit(child)
        if is_own(module) and type(module) not in order:
            order.append(type(module))

    visit(root)
    return order


def twins_name(cls: type) -> str:
    """LSTMClassifier → lstm_classifier: the name the comparison knows the twins by."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", cls.__name__).lower()


def perturbed(value):
    """Another value of a constructor argument's type, to see what follows it; None where there is none."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value * 2 if value else 1
    if isinstance(value, float):
        return value / 2 if value else 0.25
    if isinstance(value, tuple) and value and isinstance(value[0], (int, float)):
        return (perturbed(value[0]), *value[1:])
    return None


def classes_source(recording: Recording, roots: list[nn.Module], fixed: list[inspect.Parameter]) -> list[str]:
    return ["\n".join(class_source(cls, recording, roots, fixed)) for cls in own_classes(recording.root)]


def followed_variants(recording: Recording) -> dict[str, nn.Module]:
    """The root built again with each argument changed on its own, for the arguments the written classes can
    follow: those whose change alters the torch module only where a Keras argument can say so."""
    variants = {}
    for parameter in parameters(type(recording.root)):
        value = perturbed(parameter.default)
        if value is None:
            continue
        try:
            variant = construct_recorded(type(recording.root), recording.arguments, **{parameter.name: value})
            classes_source(recording, [recording.root, variant], [])
        except WriterError:
            continue
        variants[parameter.name] = variant
    return variants


def file_source(recording: Recording, reference: str, torch_import: str, inputs: str) -> str:
    root_cls = type(recording.root)
    variants = followed_variants(recording)
    fixed = [p for p in parameters(root_cls) if p.name not in variants]
    classes = classes_source(recording, [recording.root, *variants.values()], fixed)
    torch_name = f"Torch{root_cls.__name__}"
    names = f'name="{twins_name(root_cls)}", keras={root_cls.__name__}, torch={torch_name}'
    declaration = f'twins = Twins({names}, inputs="{inputs}")'
    parts = [HEADER.format(name=root_cls.__name__, reference=reference) + torch_import, *classes, declaration]
    return "\n\n\n".join(parts) + "\n"
