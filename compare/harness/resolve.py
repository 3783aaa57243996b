"""From parsed flags to what runs: the Plan (models, budgets, data, device, settings) and the
executor. Loads the data and asks nvidia-smi about GPUs; imports no framework.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib.util
import shutil
from pathlib import Path

from compare.catalog.frameworks import FRAMEWORKS, default_frameworks
from compare.catalog.registry import MODELS, PRESETS, Budget, Preset, Regularization
from compare.contract.job import RunSettings
from compare.data.datasets import DataError, load_dataset
from compare.harness.arguments import UsageError
from compare.harness.environment import nvidia_gpus


def chosen_models(args: argparse.Namespace, preset: Preset) -> list[str]:
    """--models, each of which the preset must train, or every model it trains."""
    models = args.models or list(preset.budgets)
    untrained = [m for m in models if m not in preset.budgets]
    if untrained:
        raise UsageError(
            f"--preset {preset.name} trains only {', '.join(preset.budgets)}; {', '.join(untrained)} is not part of it."
        )
    return models


def chosen_targets(args: argparse.Namespace, preset: Preset, models: list[str], data_kind: str) -> dict:
    """The accuracy targets of the preset for this dataset; --until-target needs one per model."""
    targets = preset.targets_for(args.dataset, data_kind)
    if args.until_target and not all(model in targets for model in models):
        raise UsageError(
            f"--until-target: --preset {preset.name} has no {args.dataset} targets for "
            f"--data {data_kind} (it has: {describe_targets(preset)}); choose a preset and data that do."
        )
    return targets


def budgets(args: argparse.Namespace, preset: Preset) -> dict[str, Budget]:
    """The preset's budget per model, with the flags' overrides."""
    return {
        name: dataclasses.replace(
            budget,
            epochs=args.epochs or budget.epochs,
            batch_size=args.batch_size or budget.batch_size,
            learning_rate=args.learning_rate or budget.learning_rate,
            schedule=args.lr_schedule or budget.schedule,
        )
        for name, budget in preset.budgets.items()
    }


def make_plan(args: argparse.Namespace):
    from compare.harness.plan import Plan

    preset = PRESETS[args.preset]
    models = chosen_models(args, preset)
    data_kind = args.data or ("full" if args.data_dir else preset.data)
    targets = chosen_targets(args, preset, models, data_kind)
    try:
        data = load_dataset(args.data_dir, dataset=args.dataset, sample=data_kind == "sample")
    except DataError as error:
        raise UsageError(str(error)) from None
    per_model = budgets(args, preset)
    device = resolve_device(args.device)
    frameworks = args.frameworks or default_frameworks(len(nvidia_gpus()) if device == "gpu" else 0)
    serving_only = [f for f in frameworks if not FRAMEWORKS[f].trains]
    if serving_only:
        raise UsageError(
            f"{', '.join(serving_only)} cannot train: Keras on that backend only infers. It serves a comparison's "
            "trained weights: `python -m compare deploy RESULTS_DIR`, or `--deploy` on a comparison."
        )
    dp_devices = resolve_dp_devices(args.dp_devices, device)
    if any(FRAMEWORKS[f].data_parallel for f in frameworks):
        check_divisible_batches(per_model, models, dp_devices)
    resolved = {"device": device, "precision": precision(args), "dp_devices": dp_devices}
    return Plan(
        preset=preset,
        budgets=per_model,
        models=models,
        frameworks=frameworks,
        frameworks_chosen=args.frameworks is not None,
        data=data,
        targets=targets,
        settings=run_settings(args, resolved),
        repeats=args.repeats,
        timeout_s=args.timeout or preset.timeout_s,
        out=args.out or Path("results") / datetime.datetime.now().strftime("%Y%m%d-%H%M%S"),
        checks=not args.skip_checks,
        deploy=args.deploy,
        variants=variants(args, preset, models),
    )


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
