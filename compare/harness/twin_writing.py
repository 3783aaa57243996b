"""`write-keras-twin`: a Keras twin written from a torch module in a child process (the harness
imports no framework), then checked with `check-twins` on each Keras backend."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from compare.catalog.twins import INPUT_KINDS
from compare.harness import check_commands
from compare.harness.arguments import EXIT_OK, EXIT_USAGE, UsageError, add_backends_argument

WRITER = "compare.porting.keras_writer"
WRITER_TIMEOUT_S = 300


def write_twin_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m compare write-keras-twin",
        description="Write a Keras 3 twin of a torch nn.Module built with its default arguments: the same class "
        "name, constructor signature and attribute names, every torch default that differs from Keras' passed "
        "explicitly, `call` following `forward` in channels-last, and a Twins declaration; then run check-twins "
        "on the pair. Exit 0 when every check passes, 1 when one fails, 2 when the module cannot be translated "
        "(nothing is written then).",
    )
    parser.add_argument(
        "reference", metavar="FILE.py:CLASS", help="the torch class: path/to/file.py:Class or package.module:Class"
    )
    parser.add_argument("--out", type=Path, required=True, help="the Python file to write (must not exist yet)")
    parser.add_argument(
        "--inputs",
        choices=INPUT_KINDS,
        default="image",
        help="how MNIST reaches the module: image (B, 1, 28, 28) or rows (B, 28, 28) (default: image)",
    )
    add_backends_argument(parser)
    return parser


def command_write_keras_twin(argv: list[str]) -> int:
    args = write_twin_parser().parse_args(argv)
    if args.out.exists():
        raise UsageError(f"--out {args.out} exists; nothing was changed. Name a new file, or remove that one first.")
    if args.out.suffix != ".py":
        raise UsageError(f"--out must name a .py file. Received: --out {args.out}")
    print(f"Writing a Keras twin of {args.reference} ...")
    command = [sys.executable, "-m", WRITER, args.reference, str(args.out), args.inputs]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=WRITER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        print(f"write-keras-twin: the writer ran past {WRITER_TIMEOUT_S} s; nothing was written.", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    if done.returncode != EXIT_OK:
        return EXIT_USAGE
    return check_commands.command_check_twins([str(args.out), "--backends", ",".join(args.backends)])
