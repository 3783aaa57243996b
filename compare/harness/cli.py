"""Command line: `python -m compare` (or `keras-torch-compare`).

    python -m compare [run] [options]   run the comparison (the default command)
    python -m compare report DIR        re-render DIR/report.{md,html} from DIR/results.json
    python -m compare check [--out DIR] parity and framework-difference checks on every
                                        installed Keras backend, without training
    python -m compare env               print the environment record and usable frameworks
    python -m compare check-twins REF   check a user's own twins (path/to/file.py[:name]) without training

Exit status: 0 when every run finished; 1 when any run failed, timed out or
diverged (or a framework named with --frameworks is not installed); 2 for bad
arguments, data or folders; 130 when interrupted (finished runs are kept).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib.util
import json
import os
import shutil
import signal
import sys
from collections.abc import Callable, Collection
from pathlib import Path

from compare.catalog.frameworks import (
    COMPILE_MODES,
    FRAMEWORKS,
    PRECISIONS,
    default_frameworks,
    keras_backends,
    keras_framework,
)
from compare.catalog.registry import MODELS, PRESETS, SCHEDULES, VALIDATION_FRACTION, Budget, Regularization, add_twins
from compare.contract.job import RunSettings
from compare.contract.results import ResultsError, load_results, write_json_atomic
from compare.data.datasets import SOURCES, DataError, load_dataset
from compare.harness.environment import environment_record, nvidia_gpus
from compare.harness.folder_lock import FolderBusy, FolderLock

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
    add_output_arguments(parser)
    add_regularization_arguments(parser)
    add_executor_arguments(parser)
    return parser


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


def make_executor(args: argparse.Namespace, device: str, out: Path):
    """The executor the flags ask for; several runs at once on a CPU only with --share-cpu."""
    from compare.harness.executors import LocalExecutor, SlurmExecutor, SlurmOptions, local_slots

    if args.executor == "slurm":
        if importlib.util.find_spec("submitit") is None:
            raise UsageError("--executor slurm needs submitit: pip install submitit")
        if shutil.which("sbatch") is None:
            raise UsageError("--executor slurm needs Slurm's sbatch on the PATH: run this on a Slurm login node.")
        gpus = args.slurm_gpus_per_run if args.slurm_gpus_per_run is not None else int(device == "gpu")
        folder = str(args.slurm_folder) if args.slurm_folder else None
        options = SlurmOptions(args.slurm_partition, args.slurm_time, gpus, args.slurm_cpus_per_run, folder=folder)
        return SlurmExecutor(options, str(out))
    if not args.gpus:
        return LocalExecutor(local_slots(None))
    if device == "cpu":
        if len(args.gpus) > 1 and not args.share_cpu:
            raise UsageError(
                f"--gpus {','.join(args.gpus)} with --device cpu would run {len(args.gpus)} runs at once on the "
                "same cores, so each timing would measure the others too. Leave out --gpus, or add --share-cpu "
                "to accept it (the report then marks the timings)."
            )
        return LocalExecutor(
            [dataclasses.replace(s, gpu=None) for s in local_slots(args.gpus)], shared_cpu=len(args.gpus) > 1
        )
    visible = len(nvidia_gpus())
    unknown = [gpu for gpu in args.gpus if int(gpu) >= visible]
    if unknown:
        raise UsageError(
            f"--gpus {','.join(args.gpus)}: nvidia-smi lists {visible} GPU(s), so {','.join(unknown)} does not exist."
        )
    return LocalExecutor(local_slots(args.gpus))


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
        help=f"comma-separated, from: {', '.join(FRAMEWORKS)} (default: every one installed; "
        f"the data-parallel keras-jax-dp and torch-ddp only with two or more GPUs)",
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


REGULARIZATION_FLAGS = {
    "l2": "--l2",
    "weight_decay": "--weight-decay",
    "dropout_rate": "--dropout",
    "early_stopping_patience": "--early-stopping",
    "augment": "--augment",
}


def variants(args: argparse.Namespace, preset, models: list[str]) -> tuple[Regularization, ...]:
    """The preset's regularization variants, or the one the flags describe."""
    flags = {
        "l2": args.l2,
        "weight_decay": args.weight_decay,
        "dropout_rate": args.dropout,
        "early_stopping_patience": args.early_stopping,
        "augment": args.augment,
    }
    given = [REGULARIZATION_FLAGS[key] for key, value in flags.items() if value != getattr(Regularization(), key)]
    if preset.variants:
        if given:
            raise UsageError(
                f"{', '.join(given)} cannot be combined with --preset {preset.name}, which sets "
                f"each variant's regularization itself; use another preset to set them."
            )
        return preset.variants
    if args.dropout is not None:
        without = [m for m in models if not MODELS[m].has_dropout]
        if without:
            raise UsageError(
                f"--dropout: {', '.join(without)} has no dropout layer; choose --models from "
                f"{', '.join(m for m in MODELS if MODELS[m].has_dropout)}."
            )
    from_flags = Regularization(**flags)  # named "as built" when no flag is given
    return (dataclasses.replace(from_flags, name=from_flags.describe()) if given else from_flags,)


def resolve_device(choice: str) -> str:
    has_gpu = bool(nvidia_gpus())
    if choice == "gpu" and not has_gpu:
        raise UsageError("--device gpu: no NVIDIA GPU found (nvidia-smi lists none). Use --device cpu.")
    return "gpu" if choice == "gpu" or (choice == "auto" and has_gpu) else "cpu"


CPU_DP_DEVICES = 2  # host devices (JAX) or processes (torch) on a CPU


def resolve_dp_devices(requested: int | None, device: str) -> int:
    """How many devices the data-parallel frameworks spread over."""
    if device == "cpu":
        return requested or CPU_DP_DEVICES
    gpus = len(nvidia_gpus())
    if requested and requested > gpus:
        raise UsageError(f"--dp-devices {requested}: only {gpus} GPU(s) here; choose at most {gpus}.")
    return requested or gpus


def check_divisible_batches(budgets: dict[str, Budget], models: list[str], devices: int) -> None:
    """Data parallelism splits every batch evenly across the devices."""
    uneven = [f"{m} (batch {budgets[m].batch_size})" for m in models if budgets[m].batch_size % devices]
    if uneven:
        raise UsageError(
            f"the data-parallel frameworks split each batch over {devices} devices, but "
            f"{', '.join(uneven)} is not a multiple of {devices}; choose --batch-size or --dp-devices "
            f"so that it is."
        )


def writable_folder(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise UsageError(
            f"cannot write the results folder {path}: {error.strerror}. Choose another with --out."
        ) from None
    return path


def describe_targets(preset) -> str:
    return (
        "; ".join(f"{dataset} {preset.data}: {', '.join(models)}" for dataset, models in preset.targets.items())
        or "none"
    )


def precision(args: argparse.Namespace) -> str:
    if args.tf32 is None:
        return args.precision
    if args.precision != "fp32":
        raise UsageError(f"--tf32 {args.tf32} and --precision {args.precision} disagree; give only --precision.")
    return "tf32" if args.tf32 == "on" else "fp32"


def run_settings(args: argparse.Namespace, resolved: dict) -> RunSettings:
    """Each setting from its flag of the same name, or as `resolved` has it."""
    return RunSettings(**{f.name: resolved.get(f.name, getattr(args, f.name)) for f in dataclasses.fields(RunSettings)})


def make_plan(args: argparse.Namespace):
    from compare.harness.plan import Plan

    preset = PRESETS[args.preset]
    models = args.models or list(preset.budgets)
    untrained = [m for m in models if m not in preset.budgets]
    if untrained:
        raise UsageError(
            f"--preset {preset.name} trains only {', '.join(preset.budgets)}; {', '.join(untrained)} is not part of it."
        )
    data_kind = args.data or ("full" if args.data_dir else preset.data)
    targets = preset.targets_for(args.dataset, data_kind)
    if args.until_target and not all(model in targets for model in models):
        raise UsageError(
            f"--until-target: --preset {preset.name} has no {args.dataset} targets for "
            f"--data {data_kind} (it has: {describe_targets(preset)}); choose a preset and data that do."
        )
    try:
        data = load_dataset(args.data_dir, dataset=args.dataset, sample=data_kind == "sample")
    except DataError as error:
        raise UsageError(str(error)) from None
    budgets = {
        name: Budget(
            epochs=args.epochs or budget.epochs,
            batch_size=args.batch_size or budget.batch_size,
            learning_rate=args.learning_rate or budget.learning_rate,
            schedule=args.lr_schedule or budget.schedule,
            train_samples=budget.train_samples,
            test_samples=budget.test_samples,
        )
        for name, budget in preset.budgets.items()
    }
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    device = resolve_device(args.device)
    frameworks = args.frameworks or default_frameworks(len(nvidia_gpus()) if device == "gpu" else 0)
    dp_devices = resolve_dp_devices(args.dp_devices, device)
    if any(FRAMEWORKS[f].data_parallel for f in frameworks):
        check_divisible_batches(budgets, models, dp_devices)
    resolved = {"device": device, "precision": precision(args), "dp_devices": dp_devices}
    return Plan(
        preset=preset,
        budgets=budgets,
        models=models,
        frameworks=frameworks,
        frameworks_chosen=args.frameworks is not None,
        data=data,
        targets=targets,
        settings=run_settings(args, resolved),
        repeats=args.repeats,
        timeout_s=args.timeout or preset.timeout_s,
        out=args.out or Path("results") / stamp,
        checks=not args.skip_checks,
        variants=variants(args, preset, models),
    )


def raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt


def claim_folder(path: Path) -> FolderLock:
    """Create `path` and lock it: one comparison writes a results folder at a time."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        lock = FolderLock(path).acquire()  # creating the lock file also shows that `path` is writable
    except FolderBusy as busy:
        raise UsageError(str(busy)) from None
    except OSError as error:
        raise UsageError(
            f"cannot write the results folder {path}: {error.strerror}. Choose another with --out."
        ) from None
    if lock.took_over:
        print(f"Note: {lock.took_over}.", file=sys.stderr)
    return lock


def add_twins_from(argv: list[str]) -> None:
    """Read the twins that --twins names (in a child) and add them to the catalog, before
    the parser lists the models --models accepts. Nothing is written on a bad reference."""
    import tempfile

    from compare.harness.checks import describe_twins

    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--twins", action="append", default=[])
    references = pre.parse_known_args(argv)[0].twins
    if not references:
        return
    print(f"Reading the twins in {', '.join(references)} ...", file=sys.stderr)
    with tempfile.TemporaryDirectory() as folder:
        try:
            descriptions = describe_twins(references, Path(folder))
        except ValueError as error:
            raise UsageError(f"--twins: {error}") from None
    taken = [d["name"] for d in descriptions if d["name"] in MODELS]
    if taken:
        raise UsageError(
            f"--twins: {', '.join(taken)} is the name of a model in the catalog already; rename the twins."
        )
    add_twins(descriptions)


def command_run(argv: list[str]) -> int:
    add_twins_from(argv)
    args = run_parser().parse_args(argv)
    if args.resume and args.out is None:
        raise UsageError("--resume needs --out DIR, the folder of the comparison to continue.")
    plan = make_plan(args)
    executor = make_executor(args, plan.settings.device, plan.out)
    lock = claim_folder(plan.out)
    try:
        return run_comparison(plan, args.resume, executor)
    finally:
        lock.release()


def run_comparison(plan, resume: bool, executor=None) -> int:
    """The comparison in `plan`, in a folder this process holds."""
    from compare import report
    from compare.harness import orchestrator
    from compare.harness import plan as planning
    from compare.report import statistics

    previous = None
    if (plan.out / "results.json").exists():
        if not resume:
            raise UsageError(
                f"{plan.out} already holds a comparison (results.json). Continue it with "
                f"--resume, or choose another --out folder."
            )
        try:
            previous = planning.resumable(plan, load_results(plan.out))
        except (ResultsError, ValueError) as error:
            raise UsageError(str(error)) from None
    print(f"Data: {plan.data.describe()}")
    print(f"Preset {plan.preset.name}: {plan.preset.description}")
    for model in plan.models:
        b = plan.budgets[model]
        print(
            f"  {model}: {b.epochs} epoch(s), batch {b.batch_size}, lr {b.learning_rate}, "
            f"train samples {b.train_samples or 'all'}, test samples {b.test_samples or 'all'}"
        )
    print(f"Device: {plan.settings.device} | frameworks: {', '.join(plan.frameworks)} | results: {plan.out}")

    signal.signal(signal.SIGTERM, raise_keyboard_interrupt)  # SIGTERM ends like Ctrl-C: results kept
    try:
        document = orchestrator.run_all(plan, previous=previous, executor=executor)
    except KeyboardInterrupt:
        print("\nInterrupted: the finished runs are kept.", file=sys.stderr)
        document = load_results(plan.out)
        if statistics.complete(document):  # this process holds the folder
            write_json_atomic(plan.out / "results.json", document)
        report.write_report(document, plan.out)
        print(f"Partial report: {plan.out / 'report.md'}", file=sys.stderr)
        return EXIT_INTERRUPTED
    report.write_report(document, plan.out)
    for section in (report.summary_section(document), report.verdict_section(document)):
        print(f"\n{section.title}:\n" + report.markdown_table(section.headers, section.rows))
    print(f"\nReport: {plan.out / 'report.md'} and {plan.out / 'report.html'}")
    failed = orchestrator.failed_runs(document, plan.frameworks_chosen)
    if failed:
        print(
            f"{len(failed)} run(s) did not finish: "
            + ", ".join(f"{r['model']} on {r['framework']} ({r['status']})" for r in failed),
            file=sys.stderr,
        )
        return EXIT_RUN_FAILED
    return EXIT_OK


def command_report(argv: list[str]) -> int:
    from compare import report

    parser = argparse.ArgumentParser(
        prog="python -m compare report", description="Re-render the report of a results folder from its results.json."
    )
    parser.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    try:
        document = load_results(args.folder)
    except ResultsError as error:
        raise UsageError(str(error)) from None
    folder = writable_folder(args.folder if args.folder.is_dir() else args.folder.parent)
    if store_statistics(document, folder):
        print(folder / "results.json")
    for path in report.write_report(document, folder):
        print(path)
    return EXIT_OK


def store_statistics(document: dict, folder: Path) -> bool:
    """Compute the statistics over repeats that `document` lacks (a folder interrupted, or written
    without SciPy) and store them in its results.json, unless a comparison is writing that folder
    now: then they are only drawn in the report. True when results.json was rewritten."""
    from compare.report import statistics

    if not statistics.complete(document):
        return False
    try:
        lock = FolderLock(folder).acquire()
    except FolderBusy:
        return False
    try:
        write_json_atomic(folder / "results.json", document)
    finally:
        lock.release()
    return True


def command_check(argv: list[str]) -> int:
    from compare.harness import checks

    parser = argparse.ArgumentParser(
        prog="python -m compare check",
        description="Port weights between the twins and check parity and every framework difference, on "
        "each installed Keras backend (in parallel processes), without training. Writes results.json, "
        "report.md and report.html, and prints the parity and differences sections.",
    )
    parser.add_argument(
        "--backends",
        type=names(keras_backends(), "backend"),
        default=keras_backends(),
        help="comma-separated Keras backends (default: all)",
    )
    parser.add_argument("--out", type=Path, help="results folder (default: results/check-<timestamp>)")
    args = parser.parse_args(argv)
    backends = checks.checkable_backends([keras_framework(b) for b in args.backends])
    if not backends:
        raise UsageError(
            f"the checks need torch and at least one Keras backend ({', '.join(keras_backends())}); "
            "install them with `pip install -r requirements-cpu.txt`."
        )
    out = args.out or Path("results") / datetime.datetime.now().strftime("check-%Y%m%d-%H%M%S")
    lock = claim_folder(out)
    try:
        return run_check(out, backends)
    finally:
        lock.release()


def run_check(out: Path, backends: list[str]) -> int:
    """The checks on `backends`, written into `out`, a folder this process holds."""
    from compare import report
    from compare.data.datasets import load_sample
    from compare.harness import checks, orchestrator
    from compare.harness import plan as planning

    print(f"Checks on the Keras backends {', '.join(backends)}, each in its own process ...")
    plan = planning.Plan(
        preset=PRESETS["smoke"],
        budgets={},
        models=list(MODELS),
        frameworks=[keras_framework(b) for b in backends],
        frameworks_chosen=False,
        data=load_sample(),
        targets={},
        settings=RunSettings(device="cpu", jit_compile="auto", precision="fp32"),
        timeout_s=checks.CHECKS_TIMEOUT_S,
        out=out,
    )
    document = orchestrator.new_document(plan)
    document["settings"]["preset"] = "check"
    document["settings"]["preset_description"] = "parity and framework-difference checks only, no training"
    document["checks"] = checks.run_checks(backends, out / "runs", checks.CHECKS_TIMEOUT_S)
    document["finished"] = True
    write_json_atomic(out / "results.json", document)
    report.write_report(document, out)
    for section in [report.parity_section(document), *report.differences_sections(document)]:
        print(f"\n{'#' * section.level} {section.title}\n")
        print("\n\n".join(section.paragraphs))
        if section.rows:
            print(report.markdown_table(section.headers, section.rows))
    print(f"\nReport: {out / 'report.md'} and {out / 'report.html'}")
    failed = [
        b
        for b, c in document["checks"].items()
        if "error" in c
        or not all(p["inference"].get("passed") and p["training"].get("passed") for p in c["parity"].values())
    ]
    if failed:
        print(f"Parity failed or a check crashed on: {', '.join(failed)}", file=sys.stderr)
        return EXIT_RUN_FAILED
    return EXIT_OK


def command_check_twins(argv: list[str]) -> int:
    import tempfile

    from compare import report
    from compare.harness import checks

    parser = argparse.ArgumentParser(
        prog="python -m compare check-twins",
        description="Check a user's own twins without training, on each Keras backend (in parallel "
        "processes): the constructors' signatures, the output shapes, the parameter counts, porting the "
        "weights, and parity of the logits at step 0 and after one SGD step. Exit 0 when every check "
        "passes, 1 when one fails, 2 when the twins cannot be read, built or ported. Writes nothing.",
    )
    parser.add_argument(
        "reference", metavar="FILE.py[:NAME]", help="the file declaring `Twins(...)`, or an entry point"
    )
    parser.add_argument(
        "--backends",
        type=names(keras_backends(), "backend"),
        default=keras_backends(),
        help="comma-separated Keras backends (default: every installed one)",
    )
    args = parser.parse_args(argv)
    backends = checks.checkable_backends([keras_framework(b) for b in args.backends])
    if not backends:
        raise UsageError(
            "check-twins needs torch and a Keras backend; install them with `pip install -r requirements-cpu.txt`."
        )
    print(f"Checking {args.reference} on the Keras backends {', '.join(backends)}, each in its own process ...")
    with tempfile.TemporaryDirectory() as folder:
        results = checks.run_lesson(
            checks.TWINS_CHECK, ["check", args.reference], backends, Path(folder), checks.CHECKS_TIMEOUT_S
        )
    refusal = next((r["refused"] for r in results.values() if "refused" in r), None)
    if refusal:
        raise UsageError(refusal)
    crashed = {b: r for b, r in results.items() if "checks" not in r}
    for backend, result in crashed.items():
        print(
            f"\n{backend}: {result['error']}\n{result.get('traceback') or result.get('stderr_tail', '')}",
            file=sys.stderr,
        )
    checked = {b: r["checks"] for b, r in results.items() if "checks" in r}
    if checked:
        print("\n" + report.markdown_table(*twins_check_table(checked)))
    failed = bool(crashed) or not all(c["passed"] for checks in checked.values() for c in checks)
    print("\nA check FAILED." if failed else "\nEvery check passes.")
    return EXIT_RUN_FAILED if failed else EXIT_OK


def twins_check_table(checked: dict[str, list[dict]]) -> tuple[list[str], list[list[str]]]:
    """One row per check, a pass/FAIL column per backend, and the detail (a failing backend's first)."""
    backends = list(checked)
    rows = []
    for i, check in enumerate(checked[backends[0]]):
        own = [checked[b][i] for b in backends]
        shown = next((c for c in own if not c["passed"]), own[0])
        rows.append([check["name"], *("pass" if c["passed"] else "**FAIL**" for c in own), shown["detail"]])
    return ["check", *backends, "detail"], rows


def command_env(argv: list[str]) -> int:
    argparse.ArgumentParser(
        prog="python -m compare env", description="Print the environment record and which frameworks run here."
    ).parse_args(argv)
    record = environment_record()
    record["frameworks"] = {
        name: "usable" if not fw.missing_modules() else f"missing {', '.join(fw.missing_modules())}: {fw.install_hint}"
        for name, fw in FRAMEWORKS.items()
    }
    record["keras_backend_env"] = os.environ.get("KERAS_BACKEND")
    print(json.dumps(record, indent=2))
    return EXIT_OK


COMMANDS = {
    "run": command_run,
    "report": command_report,
    "check": command_check,
    "check-twins": command_check_twins,
    "env": command_env,
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = COMMANDS.get(argv[0]) if argv else None
    try:
        return command(argv[1:]) if command else command_run(argv)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
