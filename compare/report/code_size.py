"""How much code each framework takes: logical lines, counted with Python's tokenizer.

    python -m compare.report.code_size         # prints the Markdown table the README shows

A line counts when it holds code: blank lines, comments and docstrings do not.
The models are the twins in keras_models/ and torch_models/; the training code is
each runner's `fit`, the part a learner writes (the harness's timing and progress
calls included in both).
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from pathlib import Path

from compare.catalog.registry import MODELS

ROOT = Path(__file__).resolve().parents[2]
NOT_CODE = {
    tokenize.COMMENT,
    tokenize.NL,
    tokenize.NEWLINE,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.ENCODING,
    tokenize.ENDMARKER,
}
# Every model's twins, then the augmentation layer both families share.
MODEL_FILES = (*(f"{spec.module}.py" for spec in MODELS.values()), "augment.py")


def docstring_lines(tree: ast.AST) -> set[int]:
    """The lines of every module, class and function docstring."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                lines.update(range(first.lineno, first.end_lineno + 1))
    return lines


def code_lines(source: str, first: int = 1, last: int | None = None) -> int:
    """Lines between `first` and `last` (1-based, inclusive) that hold a code token."""
    skip = docstring_lines(ast.parse(source))
    lines = {
        token.start[0] for token in tokenize.generate_tokens(io.StringIO(source).readline) if token.type not in NOT_CODE
    }
    last = last or len(source.splitlines())
    return len({line for line in lines - skip if first <= line <= last})


def definition_lines(path: Path, names: tuple[str, ...]) -> int:
    """Code lines of the top-level functions and classes `names` in `path`."""
    source = path.read_text()
    nodes = [n for n in ast.parse(source).body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name in names]
    assert len(nodes) == len(names), f"{path} lacks one of {names}"
    return sum(code_lines(source, node.lineno, node.end_lineno) for node in nodes)


KERAS_TRAINING = ("fit", "compile_for_training", "early_stopping")
TORCH_TRAINING = ("Loop", "optimizer_and_schedule", "fit", "train_epoch", "train_step")


def rows() -> list[tuple[str, int, int]]:
    """(what, Keras lines, torch lines) for each model file and the training loop."""
    table = [
        (
            file.removesuffix(".py"),
            code_lines((ROOT / "keras_models" / file).read_text()),
            code_lines((ROOT / "torch_models" / file).read_text()),
        )
        for file in MODEL_FILES
    ]
    table.append(
        (
            "training (Keras `fit`; the torch loop, its optimizer and schedule)",
            definition_lines(ROOT / "compare" / "run" / "keras_runner.py", KERAS_TRAINING),
            definition_lines(ROOT / "compare" / "run" / "torch_runner.py", TORCH_TRAINING),
        )
    )
    return table


def markdown() -> str:
    lines = ["| code | Keras lines | PyTorch lines | PyTorch / Keras |", "|---|---|---|---|"]
    lines += [f"| {what} | {keras} | {torch} | {torch / keras:.2f}× |" for what, keras, torch in rows()]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
    sys.exit(0)
