"""The writer's child process: `python -m compare.porting.keras_writer REF OUT INPUTS`.

Imports the torch class REF names (`path/to/file.py:Class` or `package.module:Class`), records a
forward pass of it built with its defaults, and writes the Keras twin to OUT, whole or not at
all. Exit 0 when written; 2, with the reason on stderr, when it cannot be.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from compare.catalog.twins import TwinsError, import_file
from compare.porting.keras_writer.layers import output_layout
from compare.porting.keras_writer.source import file_source
from compare.porting.keras_writer.trace import NCHW, SAME, WriterError, record_forward

# One MNIST batch in torch's layout, per input kind (compare.catalog.twins.INPUT_KINDS).
EXAMPLES = {"image": ((2, 1, 28, 28), NCHW), "rows": ((2, 28, 28), SAME)}


def torch_class(reference: str, out: Path) -> tuple[type, str]:
    """The class and the import line the written file uses to name it."""
    where, _, name = reference.rpartition(":")
    if not where or not name.isidentifier():
        raise WriterError(
            f"name the torch class as path/to/file.py:ClassName or package.module:ClassName. Received: {reference!r}"
        )
    if where.endswith(".py"):
        path = Path(where).expanduser().resolve()
        module = import_file(path)
        relative = os.path.relpath(path, out.resolve().parent)
        line = f'Torch{name} = import_file(Path(__file__).resolve().parent / "{relative}").{name}'
        header = "from pathlib import Path\n\nfrom compare.catalog.twins import import_file\n\n"
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as error:
            raise WriterError(f"cannot import {where!r}: {error}") from None
        line, header = f"from {where} import {name} as Torch{name}", ""
    cls = getattr(module, name, None)
    if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
        raise WriterError(f"{where} has no torch.nn.Module class named {name!r}")
    return cls, header + line


def formatted(text: str) -> str:
    """The text as `ruff format` lays it out, where ruff is installed (it is with the test extras)."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "ruff", "format", "--line-length", "110", "-"],
            input=text,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return text
    return done.stdout if done.returncode == 0 else text


def write_atomically(out: Path, text: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=out.parent, suffix=".tmp", delete=False) as handle:
        handle.write(text)
    os.replace(handle.name, out)


def main(reference: str, out: Path, inputs: str) -> int:
    try:
        cls, torch_import = torch_class(reference, out)
        shape, layout = EXAMPLES[inputs]
        torch.manual_seed(0)
        recording = record_forward(cls, torch.rand(shape), layout, output_layout)
        text = file_source(recording, reference, torch_import, inputs)
        compile(text, str(out), "exec")  # the writer's own check: what it writes parses
    except (WriterError, TwinsError) as error:
        print(f"write-keras-twin: {error}. Nothing was written.", file=sys.stderr)
        return 2
    write_atomically(out, formatted(text))
    print(f"Wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], Path(sys.argv[2]), sys.argv[3]))
