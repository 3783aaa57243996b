"""torch functions and tensor methods → `keras.ops` source, one recorded call at a time.

Each translator gets the call's AST node, the recorded event (its arguments, the layouts of its
tensors, its result) and the translator of sub-expressions, and returns Keras source; where the
translation depends on a layout it cannot prove, it raises a WriterError naming the operation.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable

import torch

from compare.porting.keras_writer.trace import NCHW, STACKED, Event, WriterError

Translate = Callable[[ast.AST], str]
# NCHW axis → NHWC axis.
CHANNELS_LAST_AXIS = {0: 0, 1: 3, 2: 1, 3: 2}
FLATTEN_NOTE = "(h, w, c) order, torch's (c, h, w): the port permutes the next Dense's rows"


def receiver(node: ast.Call) -> tuple[ast.AST, list[ast.AST]]:
    """(the tensor operated on, the other positional arguments) of `x.op(...)` or `torch.op(x, ...)`."""
    if isinstance(node.func, ast.Attribute) and not is_namespace(node.func.value):
        return node.func.value, list(node.args)
    if not node.args:
        raise WriterError("a tensor operation without a positional tensor argument")
    return node.args[0], list(node.args[1:])


def is_namespace(node: ast.AST) -> bool:
    """`torch`, `F`, `nn.functional`: a module, not a tensor."""
    root = node
    while isinstance(root, ast.Attribute):
        root = root.value
    return isinstance(root, ast.Name) and root.id in ("torch", "F", "nn", "functional")


def keyword(node: ast.Call, name: str) -> ast.AST | None:
    return next((k.value for k in node.keywords if k.arg == name), None)


def input_tensor(event: Event) -> torch.Tensor:
    return next(a for a in [*event.args, *event.kwargs.values()] if isinstance(a, torch.Tensor))


def axis_of(event: Event, dim: int) -> int:
    """A torch dim of the event's input as the Keras axis (channels-last for an image map)."""
    ndim = input_tensor(event).ndim
    dim = dim % ndim
    return CHANNELS_LAST_AXIS[dim] if event.layouts[0] == NCHW else dim


def dims_argument(event: Event, names=("dim",), position: int = 1):
    """The concrete `dim` the call ran with (keyword or positional), or None."""
    for name in names:
        if name in event.kwargs:
            return event.kwargs[name]
    args = event.args
    return args[position] if len(args) > position and not isinstance(args[position], bool) else None


def unary(keras_name: str):
    def translate(node: ast.Call, event: Event, sub: Translate, notes: list[str]) -> str:
        tensor, _ = receiver(node)
        return f"keras.ops.{keras_name}({sub(tensor)})"

    return translate


def gelu(node: ast.Call, event: Event, sub: Translate, notes: list[str]) -> str:
    tensor, _ = receiver(node)
    approximate = event.kwargs.get("approximate", "none")
    notes.append("the exact (erf) GELU, torch's approximate='none'" if approximate == "none" else "the tanh GELU")
    return f"keras.ops.gelu({sub(tensor)}, approximate={approximate != 'none'})"


def softmax(node: ast.Call, event: Event, sub: Translate, notes: list[str]) -> str:
    tensor, _ = receiver(node)
    return f"keras.ops.softmax({sub(tensor)}, axis={axis_of(event, dims_argument(event))})"


def reduction(keras_name: str):
    def translate(node: ast.Call, event: Event, sub: Translate, notes: list[str]) -> str:
        tensor, _ = receiver(node)
        dims = dims_argument(event)
        if dims is None:
            return f"keras.ops.{keras_name}({sub(tensor)})"
        axes = tuple(axis_of(event, d) for d in (dims if isinstance(dims, (tuple, list)) else (dims,)))
        keep = ", keepdims=True" if event.kwargs.get("keepdim") else ""
        return f"keras.ops.{keras_name}({sub(tensor)}, axis={axes[0] if len(axes) == 1 else axes}{keep})"

    return translate


def reshape_source(node: ast.Call, event: Event, sub: Translate, notes: list[str]) -> str:
    """flatten, view, reshape: the same in both layouts where the memory order agrees."""
    tensor, rest = receiver(node)
    before, after = input_tensor(event), event.output
    name = getattr(event.func, "__name__", "")
    flattens = after.ndim == 2 and after.shape[1] == math.prod(before.shape[1:])
    if event.layouts[0] == NCHW and before.shape[1] > 1:
        if not flattens:
            raise WriterError(
                f"`{name}` of a channels-first map {tuple(before.shape)} into {tuple(after.shape)}: its order "
                "differs in Keras' channels-last layout and the writer cannot prove the translation"
            )
        notes.append(FLATTEN_NOTE)
    if flattens or name == "flatten":
        if name == "flatten" and not flattens:
            raise WriterError(
                f"`flatten` of {tuple(before.shape)} into {tuple(after.shape)}: only flatten(1) is translated"
            )
        return f"keras.ops.reshape({sub(tensor)}, (keras.ops.shape({sub(tensor)})[0], -1))"
    shape = rest[0] if len(rest) == 1 and isinstance(rest[0], (ast.Tuple, ast.List)) else ast.Tuple(rest, ast.Load())
    shape = keyword(node, "shape") or shape
    return f"keras.ops.reshape({sub(tensor)}, {sub(shape)})"


def transpose(node: ast.Call, event: Event, sub: Translate, notes: list[str]) -> str:
    tensor, _ = receiver(node)
    if event.layouts[0] == NCHW:
        raise WriterError("a permute or transpose of a channels-first map: the writer cannot prove its Keras layout")
    ndim, name = input_tensor(event).ndim, getattr(event.func, "__name__", "")
    if name == "permute":
        dims = [d for d in event.args[1:]] if not isinstance(event.args[1], (tuple, list)) else list(event.args[1])
        axes = tuple(d % ndim for d in dims)
    else:
        first, second = (d % ndim for d in event.args[1:3])
        order = list(range(ndim))
        order[first], order[second] = order[second], order[first]
        axes = tuple(order)
    return f"keras.ops.transpose({sub(tensor)}, {axes})"


def pool(keras_name: str):
    def translate(node: ast.Call, event: Event, sub: Translate, notes: list[str]) -> str:
        tensor, rest = receiver(node)
        if any(event.kwargs.get(k) for k in ("padding", "dilation", "ceil_mode")) or len(event.args) > 3:
            raise WriterError(f"{keras_name} with padding, dilation or ceil_mode has no Keras translation here")
        size = sub(rest[0] if rest else keyword(node, "kernel_size"))
        stride = rest[1] if len(rest) > 1 else keyword(node, "stride")
        return f"keras.ops.{keras_name}({sub(tensor)}, {size}{f', strides={sub(stride)}' if stride else ''})"

    return translate


def adaptive_average(node: ast.Call, event: Event, sub: Translate, notes: list[str]) -> str:
    tensor, _ = receiver(node)
    if tuple(event.output.shape[2:]) != (1, 1):
        raise WriterError("adaptive_avg_pool2d to more than one value per channel has no Keras translation here")
    return f"keras.ops.mean({sub(tensor)}, axis=(1, 2), keepdims=True)"


def subscript(node: ast.Subscript, event: Event, sub: Translate, notes: list[str]) -> str:
    layout = event.layouts[0]
    if layout == STACKED and isinstance(node.slice, (ast.Constant, ast.UnaryOp)):
        return sub(node.value)  # h[-1] of a one-layer RNN's state: Keras' h itself
    if layout == NCHW:
        raise WriterError("indexing a channels-first map: the writer cannot prove its Keras layout")
    return f"{sub(node.value)}[{sub(node.slice)}]"


def operator(node: ast.AST, event: Event, sub: Translate, notes: list[str]) -> str:
    tensors = [a for a in event.args if isinstance(a, torch.Tensor)]
    if NCHW in event.layouts and any(t.ndim not in (0, 4) and t.numel() > 1 for t in tensors):
        raise WriterError("an operation between a channels-first map and a tensor of another layout")
    if isinstance(node, ast.BinOp):
        return f"{sub(node.left)} {OPERATOR_SIGNS[type(node.op)]} {sub(node.right)}"
    if isinstance(node, ast.UnaryOp):
        return f"-{sub(node.operand)}"
    tensor, rest = receiver(node)
    keras_name = FUNCTION_OPERATORS[getattr(event.func, "__name__", "")]
    return f"keras.ops.{keras_name}({', '.join(sub(a) for a in [tensor, *rest])})"


def concatenate(node: ast.Call, event: Event, sub: Translate, notes: list[str]) -> str:
    tensors = node.args[0]
    axis = axis_of(event, dims_argument(event) or 0)
    return f"keras.ops.concatenate({sub(tensors)}, axis={axis})"


OPERATOR_SIGNS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.MatMult: "@"}
FUNCTION_OPERATORS = {"add": "add", "sub": "subtract", "mul": "multiply", "div": "divide", "matmul": "matmul"}

# torch function or tensor method name (as `__name__` reports it) → its translator.
TRANSLATORS = {
    **{name: unary(name) for name in ("relu", "sigmoid", "tanh", "silu", "exp")},
    "gelu": gelu,
    "softmax": softmax,
    "mean": reduction("mean"),
    "sum": reduction("sum"),
    **{name: reshape_source for name in ("flatten", "view", "reshape")},
    "permute": transpose,
    "transpose": transpose,
    "max_pool2d": pool("max_pool"),
    "_max_pool2d": pool("max_pool"),
    "avg_pool2d": pool("average_pool"),
    "adaptive_avg_pool2d": adaptive_average,
    "__getitem__": subscript,
    "cat": concatenate,
    **{name: operator for name in ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__")},
    **{name: operator for name in ("__truediv__", "__rtruediv__", "__matmul__", "__neg__", *FUNCTION_OPERATORS)},
}


def translate_function(node: ast.AST, event: Event, sub: Translate, notes: list[str]) -> str:
    name = getattr(event.func, "__name__", repr(event.func))
    if name not in TRANSLATORS:
        raise WriterError(f"torch's `{name}` has no Keras translation in the writer")
    return TRANSLATORS[name](node, event, sub, notes)
