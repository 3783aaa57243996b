"""The body of each Keras `__init__`: one line per attribute the torch module holds, with the
values written as the constructor's arguments where every instance says which argument they
follow (a block built with several arguments), and as numbers otherwise."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from compare.porting.keras_writer.layers import KERAS_DEFAULTS, KerasLayer, keras_layer
from compare.porting.keras_writer.trace import Recording, WriterError, is_own

MISSING = object()


@dataclass
class Attribute:
    name: str
    lines: list[str]  # `self.name = ...`, with a comment, and a padding layer before it if any
    padded: bool


def is_scalar(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def follows(values: list, arguments: list[dict[str, object]]) -> str | None:
    """The one constructor argument equal to `values` in every instance (each instance's value)."""
    if len(values) < 2 or not all(is_scalar(v) for v in values):
        return None  # one instance is no evidence of which argument a value follows
    names = [n for n in arguments[0] if all(is_scalar(a.get(n)) and a.get(n) == v for a, v in zip(arguments, values))]
    return names[0] if len(names) == 1 else None


def written(values: list, arguments: list[dict[str, object]], what: str) -> str:
    """One argument's source: its constructor argument's name, or the value all instances share."""
    name = follows(values, arguments)
    if name and any(v != values[0] for v in values):
        return name
    if any(v != values[0] for v in values):
        raise WriterError(f"{what} is {values} across the instances, following no single constructor argument")
    return repr(values[0])


def layer_source(layers: list[KerasLayer], arguments: list[dict[str, object]], what: str) -> str:
    """One Keras constructor for the layer every instance holds, its keywords those any instance needs."""
    first = layers[0]
    positional = [len([k for k, _ in layer.arguments if k is None]) for layer in layers]
    if any(layer.type != first.type for layer in layers) or len(set(positional)) > 1:
        raise WriterError(
            f"{what} is built differently across the instances ({sorted({layer.type for layer in layers})})"
        )
    keywords = list(dict.fromkeys(k for layer in layers for k, _ in layer.arguments if k is not None))
    parts = [written([layer.arguments[i][1] for layer in layers], arguments, what) for i in range(positional[0])]
    for key in keywords:
        values = [dict(layer.arguments).get(key, KERAS_DEFAULTS.get(key)) for layer in layers]
        parts.append(f"{key}={written(values, arguments, what)}")
    return f"{first.type}({', '.join(parts)})"


def block_source(blocks: list[nn.Module], arguments: list[dict[str, object]], recording: Recording, what: str) -> str:
    """A block of the user's built as torch built it in every instance of its holder."""
    built = [recording.arguments.get(id(block)) for block in blocks]
    if any(b is None for b in built) or len({type(b) for b in blocks}) > 1:
        raise WriterError(f"{what}: the arguments {type(blocks[0]).__name__} was built with could not be read")
    parts = [f"{k}={written([b[k] for b in built], arguments, what)}" for k in built[0]]
    return f"{type(blocks[0]).__name__}({', '.join(parts)})"


def same_length(containers: list, what: str) -> None:
    if len({len(c) for c in containers}) > 1:
        raise WriterError(f"{what} holds a different number of modules across the instances")


def module_source(
    modules: list[nn.Module], arguments: list[dict], recording: Recording, what: str
) -> tuple[str, str, object]:
    """(source, comment, padding) of one attribute across the instances holding it."""
    first = modules[0]
    if is_own(first):
        return block_source(modules, arguments, recording, what), "", None
    if isinstance(first, nn.Sequential):
        same_length(modules, what)
        items = []
        for i in range(len(first)):
            layers = [keras_layer(m[i]) for m in modules]
            if layers[0].padding is not None:
                items.append(f"keras.layers.ZeroPadding2D({layers[0].padding!r})")
            items.append(layer_source(layers, arguments, f"{what}[{i}]"))
        return f"keras.Sequential([{', '.join(items)}])", "", None
    stride_1 = all(getattr(m, "stride", (1, 1)) in ((1, 1), 1) for m in modules)
    layers = [keras_layer(m, padded_at_stride_1=stride_1) for m in modules]
    paddings = {layer.padding for layer in layers}
    if len(paddings) > 1:
        raise WriterError(f"{what}: padded differently across the instances")
    return layer_source(layers, arguments, what), layers[0].comment, layers[0].padding


def presence_condition(present: list[bool], arguments: list[dict[str, object]], what: str) -> str:
    """A test of the constructor's arguments true exactly where the attribute is not None."""
    names = [n for n in arguments[0] if all(is_scalar(a.get(n)) for a in arguments)]
    candidates = [f"{a} != {b}" for i, a in enumerate(names) for b in names[i + 1 :]]
    candidates += [f"{a} != {v!r}" for a in names for v in sorted({args[a] for args in arguments})]
    for test in candidates:
        if all(eval(test, {}, dict(args)) == wanted for args, wanted in zip(arguments, present)):
            return test
    raise WriterError(f"{what} is None in some instances and no simple test of the arguments says which")


def attribute_lines(name: str, holders: list[nn.Module], recording: Recording) -> Attribute:
    """`self.<name> = ...` for one attribute of a class, from every instance of it."""
    arguments = [recording.arguments.get(id(m), {}) for m in holders]
    values = [getattr(m, name, MISSING) for m in holders]
    what = f"{type(holders[0]).__name__}.{name}"
    present = [v is not None and v is not MISSING for v in values]
    modules = [v for v in values if v is not None and v is not MISSING]
    held = [a for a, p in zip(arguments, present) if p]
    if isinstance(modules[0], (nn.ModuleList, nn.ModuleDict)):
        same_length(modules, what)
        keys = list(modules[0].keys()) if isinstance(modules[0], nn.ModuleDict) else None
        columns = zip(*(list(m.values() if keys else m) for m in modules))  # the i-th module of every instance
        items = [module_source(list(column), held, recording, f"{what}[{i}]") for i, column in enumerate(columns)]
        if any(padding for _, _, padding in items):
            raise WriterError(f"{what}: padded convolutions in a list; wrap each in a block of its own")
        sources = [f"{k!r}: {s}" for k, (s, _, _) in zip(keys, items)] if keys else [s for s, _, _ in items]
        opening, closing = "{}" if keys else "[]"
        comment = next((c for _, c, _ in items if c), "")
        return Attribute(
            name, [*commented(comment), f"self.{name} = {opening}", *(f"    {s}," for s in sources), closing], False
        )
    source, comment, padding = module_source(modules, held, recording, what)
    lines = [*commented(comment)]
    if padding is not None:
        lines.append(f"self.{name}_padding = keras.layers.ZeroPadding2D({padding!r})")
    condition = "" if all(present) else presence_condition(present, arguments, what)
    if condition:  # a guess that fits every instance seen, said as such
        lines.append(f"# `{condition}` holds in exactly the instances built here that have one (torch may test more)")
    written_as = f"{source} if {condition} else None" if condition else source
    return Attribute(name, [*lines, f"self.{name} = {written_as}"], padding is not None)


def commented(comment: str) -> list[str]:
    return [f"# {comment}"] if comment else []


def attribute_names(holders: list[nn.Module]) -> list[str]:
    """The modules' attribute names in the order they were assigned, those None in some instances included."""
    names: list[str] = []
    for module in holders:
        for name, value in vars(module).items():
            if name == "_modules":
                names += [n for n in value if n not in names and value[n] is not None]
            elif (
                value is None
                and name not in names
                and not name.startswith("_")
                and any(isinstance(getattr(m, name, None), nn.Module) for m in holders)
            ):
                names.append(name)
    return names


def own_weights(holders: list[nn.Module]) -> list[tuple[str, tuple[int, ...]]]:
    """(name, shape) of the parameters a block holds itself (not through a layer)."""
    shapes = {}
    for module in holders:
        for name, parameter in module.named_parameters(recurse=False):
            shapes.setdefault(name, set()).add(tuple(parameter.shape))
    if any(len(found) > 1 for found in shapes.values()):
        raise WriterError(f"{type(holders[0]).__name__}: a weight of its own whose shape changes across the instances")
    return [(name, found.pop()) for name, found in shapes.items()]
