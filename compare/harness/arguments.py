"""The command line's words: each command's arguments, the types that check them, and the
exit statuses. Parsing only: what the flags then mean (a Plan, an executor) is
compare.harness.resolve's; the commands are compare.harness.cli's.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Collection
from pathlib import Path

from compare.catalog.frameworks import COMPILE_MODES, FRAMEWORKS, PRECISIONS, keras_backends
from compare.catalog.registry import MODELS, PRESETS, SCHEDULES, VALIDATION_FRACTION
from compare.data.datasets import SOURCES

EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """Bad input from the user: printed as one message, exit status 2."""


def number(convert: Callable[[str], float], accept: Callable[[float], bool], expected: str):
    """An argparse type: `convert` the text, then keep it only if `accept`s it."""

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


positive_int = number(int, lambda v: v > 0, "a positive whole number")
positive_float = number(float, lambda v: 0 < v < float("inf"), "a positive number")
non_negative_float = number(float, lambda v: 0 <= v < float("inf"), "a number >= 0")
dropout_rate = number(float, lambda v: 0 <= v < 1, "a rate in [0, 1)")


def batch_size_list(text: str) -> list[int]:
    """At least two distinct positive batch sizes, comma-separated, in increasing order."""
    try:
        sizes = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        sizes = []
    if len(sizes) < 2 or sizes[0] <= 0:
        raise argparse.ArgumentTypeError(
            f"expected two or more positive batch sizes such as 16,64,256,1024 (a line needs two points). "
            f"Received: {text!r}"
        )
    return sizes


def names(valid: Collection[str], what: str):
    """argparse type for a comma-separated list drawn from `valid`."""

    def parse(text: str) -> list[str]:
        chosen = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in chosen if name not in valid]
        if unknown or not chosen:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {', '.join(map(repr, unknown)) or '(none given)'}; choose from: {', '.join(valid)}"
            )
        return chosen

    return parse


def run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m compare",
        description="Train and time the same four MNIST models on Keras 3 (TensorFlow, JAX, "
        "PyTorch backends) and plain PyTorch, each framework in its own process, and write a report.",
        epilog="Other commands: `python -m compare report DIR`, `python -m compare check`, "
        "`python -m compare check-twins FILE.py[:NAME]`, `python -m compare env`.",
    )
    add_selection_arguments(parser)
    add_training_arguments(parser)
    add_data_arguments(parser)
    add_compute_arguments(parser)
    add_repeat_arguments(parser)
    add_output_arguments(parser)
    add_regularization_arguments(parser)
    add_executor_arguments(parser)
    return parser


def add_selection_arguments(parser: argparse.ArgumentParser) -> None:
    """Which models and frameworks, and under which preset."""
    parser.add_argument(
        "--twins",
        action="append",
        default=[],
        metavar="FILE.py[:NAME]",
        help="add a user's own twins, declared in FILE.py as `Twins(name=..., keras=..., torch=...)` "
        "(from compare import Twins), or by an installed package's entry point; repeatable. They train "
        "beside the built-in models; `--models NAME` trains them alone",
    )
    parser.add_argument(
        "--models",
        type=names(MODELS, "model"),
        help=f"comma-separated, from: {', '.join(MODELS)} (default: every model the preset trains)",
    )
    parser.add_argument(
        "--frameworks",
        type=names(FRAMEWORKS, "framework"),
        default=None,
        help=f"comma-separated, from: {', '.join(n for n, fw in FRAMEWORKS.items() if fw.trains)} (default: every "
        "one installed; the data-parallel keras-jax-dp and torch-ddp only with two or more GPUs)",
    )
    parser.add_argument(
        "--preset",
        choices=list(PRESETS),
        default="default",
        help="; ".join(f"{p.name}: {p.description}" for p in PRESETS.values()).replace("%", "%%"),
    )


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    """Overrides of the preset's budget and schedule."""
    parser.add_argument("--epochs", type=positive_int, help="override the preset's epochs for every model")
    parser.add_argument("--batch-size", type=positive_int, help="override the preset's batch size")
    parser.add_argument(
        "--learning-rate",
        type=positive_float,
        help="override the preset's Adam learning rate (the peak rate of a schedule)",
    )
    parser.add_argument(
        "--lr-schedule",
        choices=SCHEDULES,
        help="warmup-cosine: linear warm-up over the first 10%% of steps, then cosine decay to 0, "
        "stepped per batch in every framework; constant: the rate throughout (default: the preset's)",
    )


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """Which dataset, and where it comes from."""
    parser.add_argument(
        "--dataset",
        choices=list(SOURCES),
        default="mnist",
        help="MNIST's digits, or Zalando's Fashion-MNIST (same format, harder; no sample ships: "
        "it is drawn from a local copy)",
    )
    parser.add_argument(
        "--data",
        choices=["sample", "full"],
        help="5,000/1,000 images (MNIST's ship with the package), or the whole dataset found or "
        "downloaded as the README says (default: the preset's)",
    )
    parser.add_argument(
        "--data-dir",
        "--mnist-dir",
        type=Path,
        dest="data_dir",
        help="a folder with the dataset's four IDX files, or an .npz (implies --data full unless "
        "--data sample is given)",
    )


def add_compute_arguments(parser: argparse.ArgumentParser) -> None:
    """Where and how the steps compute: device, compilation, precision, seed."""
    parser.add_argument(
        "--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: the GPU when nvidia-smi lists one"
    )
    parser.add_argument(
        "--jit-compile",
        choices=["auto", "on", "off"],
        default="auto",
        help="Keras compile(jit_compile=...): auto is XLA on JAX (and on TensorFlow with a GPU), eager on torch",
    )
    parser.add_argument(
        "--precision",
        choices=list(PRECISIONS),
        default="fp32",
        help="; ".join(f"{name}: {words}" for name, words in PRECISIONS.items())
        + "; set the same in every framework (default fp32)",
    )
    parser.add_argument("--tf32", choices=["on", "off"], help="the same as --precision tf32 (on) or fp32 (off)")
    parser.add_argument(
        "--compile-mode",
        choices=COMPILE_MODES,
        default="default",
        help="torch.compile's mode for torch-compile (reduce-overhead: CUDA graphs on a GPU)",
    )


def add_repeat_arguments(parser: argparse.ArgumentParser) -> None:
    """When a run stops, and what repeats and seeds it."""
    parser.add_argument(
        "--until-target",
        action="store_true",
        help="stop each run after the first epoch whose test accuracy reaches the model's "
        "target (the preset's epochs are the cap); the report ranks the frameworks by time to target",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seeds Python, NumPy, every framework, the initial weights and the data order",
    )
    parser.add_argument(
        "--repeats",
        type=positive_int,
        default=1,
        help="run every (model, framework) N times; repeat i uses seed + i for the weights, data order "
        "and dropout, the same in every framework, and rotates the frameworks' order. The report gives "
        "medians, 95%% intervals and the ties they imply (default 1: single runs)",
    )
    parser.add_argument(
        "--batch-sizes",
        type=batch_size_list,
        nargs="?",
        const=[],
        metavar="B,B,...",
        help="after each run's training, time its step at each batch size and split it into a fixed cost "
        "per step and a cost per sample (the report's 'Where the time goes'); alone: each model's own "
        "list, e.g. 16,64,256,1024 for the MLP",
    )
    parser.add_argument(
        "--deterministic",
        action="store_true",
        help="deterministic kernels in every framework (GPU: slower; see the README)",
    )


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """Time limits, the results folder, checks and resuming."""
    parser.add_argument("--timeout", type=positive_int, help="seconds per run (default: the preset's)")
    parser.add_argument("--out", type=Path, help="results folder (default: results/<timestamp>)")
    parser.add_argument(
        "--skip-checks", action="store_true", help="leave out the parity and framework-difference checks (see `check`)"
    )
    parser.add_argument(
        "--deploy",
        action="store_true",
        help="then serve every trained model by each export route (ONNX, torch.export, OpenVINO, SavedModel) and "
        "on Keras' inference-only backends: parity, latency, size (see `deploy`)",
    )
    parser.add_argument(
        "--dp-devices",
        type=positive_int,
        help="devices for keras-jax-dp and torch-ddp (default: every GPU; on a CPU, 2 host "
        "devices or processes, a correctness check rather than a speed-up)",
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue the comparison in --out: keep its finished runs, run the rest"
    )


def add_regularization_arguments(parser: argparse.ArgumentParser) -> None:
    """The regularization options, in a group of their own."""
    regularization = parser.add_argument_group(
        "regularization",
        "each spelled the idiomatic way in each framework (see the README); the "
        "regularization preset sets these itself, one variant at a time",
    )
    regularization.add_argument(
        "--l2",
        type=non_negative_float,
        default=0.0,
        metavar="λ",
        help="add λ·Σw² over every kernel to the loss (Keras: L2(λ) regularizers)",
    )
    regularization.add_argument(
        "--weight-decay",
        type=non_negative_float,
        default=0.0,
        metavar="WD",
        help="the optimizer's weight_decay (decoupled in Keras, coupled in torch's Adam)",
    )
    regularization.add_argument(
        "--dropout",
        type=dropout_rate,
        metavar="RATE",
        help="dropout rate of the models that have dropout (mlp, transformer)",
    )
    regularization.add_argument(
        "--early-stopping",
        type=positive_int,
        metavar="PATIENCE",
        help=f"stop after PATIENCE epochs without a lower validation loss and restore "
        f"the best weights; the validation split is "
        f"{VALIDATION_FRACTION * 100:g}%% of the training images",
    )
    regularization.add_argument(
        "--augment", action="store_true", help="random rotations (±10°) and shifts (±10%%) of the training images"
    )


def gpu_ids(text: str) -> list[str]:
    ids = [part.strip() for part in text.split(",") if part.strip()]
    if not ids or not all(part.isdigit() for part in ids) or len(set(ids)) != len(ids):
        raise argparse.ArgumentTypeError(f"expected distinct GPU indices such as 0,1,2,3. Received: {text!r}")
    return ids


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the runs execute: here (one at a time, or one per GPU at once), or on Slurm."""
    group = parser.add_argument_group(
        "executor", "where the runs execute (results.json, --resume and the lock are the same)"
    )
    group.add_argument(
        "--executor",
        choices=["local", "slurm"],
        default="local",
        help="local: here (default); slurm: a Slurm job array through submitit",
    )
    group.add_argument(
        "--gpus",
        type=gpu_ids,
        help="local: up to one run per listed GPU at once (e.g. 0,1,2,3), each pinned to its GPU "
        "(CUDA_VISIBLE_DEVICES) and to an equal share of the CPU cores",
    )
    group.add_argument(
        "--share-cpu",
        action="store_true",
        help="with --device cpu, accept --gpus N ids as N runs at once sharing the cores; the timings "
        "then measure the sharing too, and the report says so",
    )
    group.add_argument("--slurm-partition", help="slurm: the partition (default: the cluster's default)")
    group.add_argument(
        "--slurm-time", type=positive_int, default=60, metavar="MINUTES", help="slurm: time limit per run"
    )
    group.add_argument(
        "--slurm-gpus-per-run",
        type=int,
        choices=[0, 1],
        default=None,
        help="slurm: 1 on GPU nodes (default with --device gpu)",
    )
    group.add_argument("--slurm-cpus-per-run", type=positive_int, default=1, help="slurm: CPU cores per run")
    group.add_argument("--slurm-folder", type=Path, help="slurm: submitit's logs and files (default: OUT/runs/slurm)")


def add_backends_argument(parser: argparse.ArgumentParser) -> None:
    """--backends, for the commands that run on each Keras backend without training."""
    parser.add_argument(
        "--backends",
        type=names(keras_backends(), "backend"),
        default=keras_backends(),
        help="comma-separated Keras backends (default: every installed one)",
    )
