"""The GPU plan: every model trained to its target on one GPU, in one call.

    python benchmarks/gpu_plan.py --out DIR [--data-dir DIR] [--with-keras-torch-jit]
    python benchmarks/gpu_plan.py --tiny --out DIR      # the same plan, a few seconds on a CPU

The plan is one comparison: `--preset gpu --until-target` on keras-jax, keras-torch,
torch and torch-compile (TensorFlow is left out: its CUDA build is not always there;
name it with --frameworks to add it). --with-keras-torch-jit then adds Keras' own
torch.compile route to the same folder with `--resume`, which keeps every finished run.
A call cut off before the end loses nothing: run the same command again.

Before it starts it prints an upper bound of its duration: each run's measured start-up
and first-step cost plus every capped epoch at its measured epoch time, from the
reference run below; `--until-target` stops most runs sooner.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PLAN = ["--preset", "gpu", "--until-target", "--device", "gpu", "--skip-checks"]
FRAMEWORKS = ["keras-jax", "keras-torch", "torch", "torch-compile"]
# The same plan shrunk for a CPU: the MLP to its sample target (90%) on two frameworks.
TINY = ["--preset", "default", "--models", "mlp", "--until-target", "--device", "cpu", "--skip-checks"]
TINY_FRAMEWORKS = ["torch", "keras-jax"]

# Measured on an NVIDIA H200 (2026-11-27, full MNIST, batch 128, one epoch; see the README's
# GPU section): seconds of one epoch of training, and of everything else a run costs
# (start-up, imports, the first step's compilation, evaluation, latency).
REFERENCE_EPOCH_S = {
    ("mlp", "keras-jax"): 8.7, ("mlp", "keras-torch"): 5.3, ("mlp", "torch"): 1.6, ("mlp", "torch-compile"): 10.1,
    ("resnet_v2", "keras-jax"): 7.1, ("resnet_v2", "keras-torch"): 21.1, ("resnet_v2", "torch"): 5.8,
    ("resnet_v2", "torch-compile"): 23.8, ("transformer", "keras-jax"): 16.2, ("transformer", "keras-torch"): 9.4,
    ("transformer", "torch"): 4.2, ("transformer", "torch-compile"): 19.7, ("lstm", "keras-jax"): 3.5,
    ("lstm", "keras-torch"): 3.3,
}
REFERENCE_OVERHEAD_S = 20.0  # per run: wall time minus the epoch, 10-30 s in that run
UNMEASURED_EPOCH_S = 25.0  # a run the reference did not finish (lstm on torch) or have (keras-torch-jit)


def upper_bound_s(models: list[str], frameworks: list[str], epochs: dict[str, int]) -> float:
    """Every run's overhead plus all its capped epochs at the reference epoch time."""
    return sum(REFERENCE_OVERHEAD_S + epochs[m] * REFERENCE_EPOCH_S.get((m, f), UNMEASURED_EPOCH_S)
               for m in models for f in frameworks)


def compare_command(arguments: list[str]) -> list[str]:
    return [sys.executable, "-m", "compare", *arguments]


def main(argv: list[str] | None = None) -> int:
    from compare.registry import PRESETS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="the results folder (the same one to finish it)")
    parser.add_argument("--data-dir", type=Path, help="the full MNIST's four IDX files (default: found as usual)")
    parser.add_argument("--with-keras-torch-jit", action="store_true",
                        help="then add keras-torch with jit_compile=True to the same comparison")
    parser.add_argument("--tiny", action="store_true", help="the shrunk plan, for a CPU")
    args = parser.parse_args(argv)

    base, frameworks = (TINY, TINY_FRAMEWORKS) if args.tiny else (PLAN, FRAMEWORKS)
    base = [*base, "--out", str(args.out)] + (["--data-dir", str(args.data_dir)] if args.data_dir else [])
    preset = PRESETS[base[base.index("--preset") + 1]]
    models = base[base.index("--models") + 1].split(",") if "--models" in base else list(preset.budgets)
    epochs = {m: budget.epochs for m, budget in preset.budgets.items()}
    stages = [frameworks] + ([frameworks + ["keras-torch-jit"]] if args.with_keras_torch_jit else [])
    bound = upper_bound_s(models, stages[-1], epochs)
    print(f"GPU plan: {len(models)} models x {len(stages[-1])} frameworks, at most about {bound / 60:.0f} min "
          f"(every epoch the preset allows, at the reference epoch times); --until-target stops most runs sooner.",
          flush=True)
    code = 0
    for stage in stages:
        resume = ["--resume"] if (args.out / "results.json").exists() else []
        code = subprocess.run(compare_command([*base, "--frameworks", ",".join(stage), *resume]), cwd=ROOT).returncode
        if code not in (0, 1):  # 1: some run failed; the report says which, and the next stage still runs
            return code
    return code


if __name__ == "__main__":
    sys.exit(main())
