"""The GPU plan: every model trained to its target on one GPU, in one call.

    python benchmarks/gpu_plan.py --out DIR [--data-dir DIR] [--with-keras-torch-jit]
    python benchmarks/gpu_plan.py --tiny --out DIR      # the same plan, a few seconds on a CPU

The plan is one comparison: `--preset gpu --until-target` on keras-jax, keras-torch,
torch and torch-compile (TensorFlow is left out: its CUDA build is not always there;
name it with --frameworks to add it). --with-keras-torch-jit then adds Keras' own
torch.compile route to the same folder with `--resume`, which keeps every finished run.
A call cut off before the end loses nothing: run the same command again.

Before it starts it prints how long it is expected to take: the sum of the wall times
its runs took in the last committed GPU comparison (docs/results/...), times the repeats.
--repeats N runs the plan N times, repeat i from seed i (see `python -m compare --help`);
by default as many repeats as that estimate fits into --budget-s (at least one).
--gpus 0,1,2,3 runs up to one run per GPU at once (`python -m compare --gpus`), and
--executor slurm submits the runs as a Slurm job array; the estimate divides by the GPUs.
"""

from __future__ import annotations

import argparse
import json
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

# The estimate comes from the plan's last committed run on a GPU: each run is expected to
# take the wall time it took there (start-up, compilation, training to target, evaluation).
REFERENCE = ROOT / "docs" / "results" / "h200-2026-11-27" / "results.json"


def estimate_s(models: list[str], frameworks: list[str], reference: Path = REFERENCE) -> tuple[float, int]:
    """(seconds, runs without a reference figure): each run's wall time in the reference
    comparison; a run it lacks is taken to last as long as its average run."""
    runs = json.loads(reference.read_text())["runs"]
    walls = {(run["model"], run["framework"]): run["wall_time_s"] for run in runs if run["status"] == "ok"}
    average = sum(walls.values()) / len(walls)
    planned = [(m, f) for m in models for f in frameworks]
    return sum(walls.get(pair, average) for pair in planned), sum(pair not in walls for pair in planned)


DEFAULT_BUDGET_S = 540  # one 10-minute call on a lent GPU, less a minute for start-up and copies


def repeats_within(budget_s: float, one_repeat_s: float) -> int:
    """How many repeats of a plan expected to take `one_repeat_s` fit into `budget_s` (at least one)."""
    return max(1, int(budget_s // one_repeat_s)) if one_repeat_s > 0 else 1


def compare_command(arguments: list[str]) -> list[str]:
    return [sys.executable, "-m", "compare", *arguments]


def main(argv: list[str] | None = None) -> int:
    from compare.catalog.registry import PRESETS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="the results folder (the same one to finish it)")
    parser.add_argument("--data-dir", type=Path, help="the full MNIST's four IDX files (default: found as usual)")
    parser.add_argument(
        "--with-keras-torch-jit",
        action="store_true",
        help="then add keras-torch with jit_compile=True to the same comparison",
    )
    parser.add_argument("--tiny", action="store_true", help="the shrunk plan, for a CPU")
    parser.add_argument(
        "--repeats", type=int, help="repeat the plan N times, seeds 0..N-1 (default: as many as fit --budget-s)"
    )
    parser.add_argument(
        "--budget-s",
        type=float,
        default=DEFAULT_BUDGET_S,
        help=f"seconds of runs the default number of repeats may take (default {DEFAULT_BUDGET_S})",
    )
    parser.add_argument("--gpus", help="up to one run per listed GPU at once, e.g. 0,1,2,3 (default: one GPU)")
    parser.add_argument(
        "--executor",
        choices=["local", "slurm"],
        default="local",
        help="slurm: a job array (see python -m compare --help)",
    )
    args, executor_flags = parser.parse_known_args(argv)  # --slurm-* options go on to the comparison
    if args.repeats is not None and args.repeats < 1:
        parser.error(f"--repeats must be a positive whole number; received {args.repeats}")

    base, frameworks = (TINY, TINY_FRAMEWORKS) if args.tiny else (PLAN, FRAMEWORKS)
    base = [*base, "--out", str(args.out)] + (["--data-dir", str(args.data_dir)] if args.data_dir else [])
    preset = PRESETS[base[base.index("--preset") + 1]]
    models = base[base.index("--models") + 1].split(",") if "--models" in base else list(preset.budgets)
    stages = [frameworks] + ([frameworks + ["keras-torch-jit"]] if args.with_keras_torch_jit else [])
    gpus = len(args.gpus.split(",")) if args.gpus else 1
    seconds, unmeasured = estimate_s(models, stages[-1]) if REFERENCE.is_file() else (0.0, 0)
    seconds /= gpus  # runs side by side: an estimate, as if they divided evenly over the GPUs
    # The estimate is a GPU's: the CPU's tiny plan repeats only when asked.
    repeats = args.repeats or (1 if args.tiny else repeats_within(args.budget_s, seconds))
    plan = f"GPU plan: {len(models)} models x {len(stages[-1])} frameworks x {repeats} repeat(s) on {gpus} GPU(s)"
    if REFERENCE.is_file():
        counted = f" ({unmeasured} not run there: counted as its average run)" if unmeasured else ""
        plan += f"; expected about {seconds * repeats / 60:.1f} min of runs, as long as each took in "
        plan += f"{REFERENCE.parent.relative_to(ROOT)}{counted}."
    else:
        plan += f"; no estimate: {REFERENCE.relative_to(ROOT)}, the last GPU run, is not here."
    print(plan, flush=True)
    base += ["--repeats", str(repeats), "--executor", args.executor, *executor_flags]
    base += ["--gpus", args.gpus] if args.gpus else []
    code = 0
    for stage in stages:
        resume = ["--resume"] if (args.out / "results.json").exists() else []
        code = subprocess.run(compare_command([*base, "--frameworks", ",".join(stage), *resume]), cwd=ROOT).returncode
        if code not in (0, 1):  # 1: some run failed; the report says which, and the next stage still runs
            return code
    return code


if __name__ == "__main__":
    sys.exit(main())
