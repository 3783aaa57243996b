"""A torch `forward` → the Keras `call` that does the same in channels-last, statement by
statement, with a shape comment on each: the source is translated where it ran, with the
recording (compare.porting.keras_writer.trace) saying what each expression computed."""

from __future__ import annotations

import ast
import inspect
import textwrap

import torch
from torch import nn

from compare.porting.keras_writer.operations import translate_function
from compare.porting.keras_writer.trace import NCHW, STACKED, Event, Recording, WriterError, is_own, tensors_in

# torch modules whose Keras twins behave differently in training (Sequential: it may hold one).
TAKES_TRAINING = (nn.BatchNorm1d, nn.BatchNorm2d, nn.Dropout, nn.LSTM, nn.GRU, nn.Sequential)


def keras_shape(tensor: torch.Tensor, layout: str) -> str:
    """ "(B, 14, 14, 64)": the Keras twin's shape of a recorded torch tensor, B for the batch."""
    dims = list(tensor.shape)
    if layout == NCHW and len(dims) == 4:
        dims = [dims[0], dims[2], dims[3], dims[1]]
    if layout == STACKED:
        dims = dims[1:]
    return "(" + ", ".join(["B", *map(str, dims[1:])]) + ")"


class CallWriter(ast.NodeTransformer):
    """Translates one class's forward; `padded` names the attributes with a ZeroPadding2D before them."""

    def __init__(self, cls: type, recording: Recording, padded: set[str]):
        self.cls, self.recording, self.padded = cls, recording, padded
        code = cls.forward.__code__
        source = inspect.getsource(cls.forward)
        self.indent = len(source) - len(source.lstrip())
        self.tree = ast.parse(textwrap.dedent(source)).body[0]
        self.offset = code.co_firstlineno - 1
        self.lines = source.splitlines()
        self.events = {where: events for (c, where), events in recording.events.items() if c is code}
        self.notes: list[str] = []

    def position(self, node: ast.AST) -> tuple:
        return (
            node.lineno + self.offset,
            node.end_lineno + self.offset,
            node.col_offset + self.indent,
            node.end_col_offset + self.indent,
        )

    def where(self, node: ast.AST) -> str:
        line = self.lines[node.lineno - 1].strip()
        return f"{inspect.getsourcefile(self.cls)}, line {node.lineno + self.offset}: {line}"

    def events_at(self, node: ast.AST) -> list[Event]:
        return self.events.get(self.position(node), []) if hasattr(node, "lineno") else []

    # --- expressions
    def source(self, node: ast.AST) -> str:
        return ast.unparse(self.visit(node))

    def generic_expression(self, node: ast.AST) -> ast.AST:
        events = self.events_at(node)
        if not events:
            return self.generic_visit(node)
        translations = {self.translate(node, event) for event in events}
        if len(translations) > 1:
            raise WriterError(f"{self.where(node)}: runs differently from one call to the next: {sorted(translations)}")
        return ast.Name(id=translations.pop())

    visit_Call = visit_BinOp = visit_UnaryOp = generic_expression

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        inner = self.events_at(node.value)
        if not self.events_at(node) and inner and isinstance(inner[0].func, nn.MultiheadAttention):
            return self.visit(node.value)  # attn(...)[0]: Keras' MultiHeadAttention returns the output alone
        return self.generic_expression(node)

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if node.attr == "shape":  # x.shape[0]: symbolic in a traced Keras call, so asked of keras.ops
            return ast.Name(id=f"keras.ops.shape({self.source(node.value)})")
        return self.generic_visit(node)

    def translate(self, node: ast.AST, event: Event) -> str:
        try:
            if event.is_module:
                return self.module_call(node, event)
            return translate_function(node, event, self.source, self.notes)
        except WriterError as error:
            if str(error).startswith(inspect.getsourcefile(self.cls) or "?"):
                raise
            raise WriterError(f"{self.where(node)}: {error}") from None

    def module_call(self, node: ast.Call, event: Event) -> str:
        module, callee = event.func, self.source(node.func)
        args = [self.source(a) for a in node.args]
        if isinstance(module, nn.MultiheadAttention):
            query, key, value = (args + [self.source(keyword.value) for keyword in node.keywords])[:3]
            return f"{callee}(query={query}, value={value}, key={key}, training=training)"
        if len(args) != 1 or node.keywords:
            raise WriterError(
                f"{type(module).__name__} called with more than its input: the writer translates module(x) only"
            )
        if isinstance(module, (nn.Linear, nn.LayerNorm)) and event.layouts[0] == NCHW:
            raise WriterError(
                f"{type(module).__name__} on a channels-first map acts on its last axis, W in torch and C in Keras"
            )
        if isinstance(node.func, ast.Attribute) and node.func.attr in self.padded:
            return f"{callee}({self.source(node.func)}_padding({args[0]}))"
        # Passed on explicitly: Keras' stateless_call (JAX's training step) calls `call` without the context
        # that would hand `training` down to the layers inside.
        training = ", training=training" if is_own(module) or isinstance(module, TAKES_TRAINING) else ""
        return f"{callee}({args[0]}{training})"

    # --- statements
    def shape_comment(self, node: ast.AST) -> tuple[str, list[str]]:
        """("  # (B, 14, 14, 64)", the notes to write above the line) for the statement computing `node`."""
        shapes = [
            ", ".join(keras_shape(t, self.recording.layout(t)) for t in tensors_in(event.output))
            for event in self.events_at(node)
        ]
        shapes = list(dict.fromkeys(s for s in shapes if s))
        shape = shapes[0] if len(shapes) == 1 else f"{shapes[0]} … {shapes[-1]}" if shapes else ""
        notes, self.notes = [f"# {note}" for note in dict.fromkeys(self.notes)], []
        return (f"  # {shape}" if shape else ""), notes

    def value_node(self, node: ast.AST) -> ast.AST:
        """The expression whose events give a statement's shape (through a trailing [0] of attention)."""
        return node.value if isinstance(node, ast.Subscript) and not self.events_at(node) else node

    def statement(self, node: ast.stmt) -> list[str]:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            return [ast.unparse(node)]  # a docstring
        if isinstance(node, ast.Expr):
            if not any(self.events_at(n) for n in ast.walk(node)):
                return [f"# torch-only, computes no tensor: {ast.unparse(node)}"]
            raise WriterError(f"{self.where(node)}: a tensor operation whose result is dropped")
        if isinstance(node, (ast.Assign, ast.Return)):
            return self.assignment(node)
        if isinstance(node, ast.For):
            if any(self.events_at(n) for n in ast.walk(node.iter)):
                raise WriterError(f"{self.where(node)}: a loop over tensors")
            body = [line for s in node.body for line in self.statement(s)]
            return [f"for {ast.unparse(node.target)} in {ast.unparse(node.iter)}:", *("    " + line for line in body)]
        if isinstance(node, ast.If) and not any(self.events_at(n) for n in ast.walk(node.test)):
            body = [line for s in node.body for line in self.statement(s)]
            orelse = [line for s in node.orelse for line in self.statement(s)]
            tail = ["else:", *("    " + line for line in orelse)] if orelse else []
            return [f"if {ast.unparse(node.test)}:", *("    " + line for line in body), *tail]
        raise WriterError(f"{self.where(node)}: a {type(node).__name__} statement the writer does not translate")

    def assignment(self, node: ast.Assign | ast.Return) -> list[str]:
        if node.value is None:
            return ["return"]
        value = self.source(node.value)
        comment, notes = self.shape_comment(self.value_node(node.value))
        if isinstance(node, ast.Return):
            return [*notes, f"return {value}{comment}"]
        if len(node.targets) != 1:
            raise WriterError(f"{self.where(node)}: chained assignment")
        target = node.targets[0]
        events = self.events_at(node.value)
        if isinstance(target, ast.Tuple) and events and isinstance(events[0].func, nn.RNNBase):
            # (outputs, (h, c)) in torch is [outputs, h, c] in Keras: the names in order.
            names = [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
            return [*notes, f"{', '.join(names)} = {value}{comment}"]
        return [*notes, f"{ast.unparse(target)} = {value}{comment}"]

    def call_method(self) -> list[str]:
        """`def call(self, <forward's arguments>, training=None):` and its body."""
        arguments = [a.arg for a in self.tree.args.args[1:]]
        body = [line for node in self.tree.body for line in self.statement(node)]
        return [f"def call(self, {', '.join([*arguments, 'training=None'])}):", *("    " + line for line in body)]
