"""Where the time goes, for every model and framework: each framework's fixed cost per step and
cost per sample, from the batch-size sweep, printed as the README's table with the CPU.

    python benchmarks/anatomy_sweep.py                       # four models, five frameworks, 3 repeats
    python benchmarks/anatomy_sweep.py --repeats 1 --models mlp
    python benchmarks/anatomy_sweep.py --from results/sweep  # print the table of a finished sweep

It runs `python -m compare --preset smoke --batch-sizes --skip-checks`: each run trains its 8 smoke
steps, then sweeps each model's own batch sizes (the catalog's). The sweep's numbers do not depend on
how long the run trained first. Not a test: it measures and prints.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.suite_durations import cpu_name  # noqa: E402
from compare.contract.results import load_results  # noqa: E402


def sweep(out: Path, models: str, repeats: int) -> float:
    """Run the sweep into `out`; its wall time in seconds."""
    command = [sys.executable, "-m", "compare", "--preset", "smoke", "--models", models, "--batch-sizes"]
    command += ["--repeats", str(repeats), "--skip-checks", "--out", str(out)]
    print("$", " ".join(command[1:]), flush=True)
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def table(folder: Path) -> str:
    """A row per (model, framework): medians over repeats of a, b and the overhead-bound batch size."""
    cells: dict[tuple[str, str], list[dict]] = {}
    for run in load_results(folder)["runs"]:
        if run.get("anatomy"):
            cells.setdefault((run["model"], run["framework"]), []).append(run)
    headers = ["model", "framework", "fixed ms per step (a)", "µs per sample (b)", "overhead-bound below batch"]
    headers += ["batch sizes", "sweep s"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for (model, framework), runs in cells.items():
        fixed = statistics.median(run["anatomy"]["fixed_ms"] for run in runs)
        per_sample = statistics.median(run["anatomy"]["per_sample_us"] for run in runs)
        bounds = [run["anatomy"]["overhead_bound_below_batch"] for run in runs]
        bound = "—" if None in bounds else f"{statistics.median(bounds):,.0f}"
        sizes = ",".join(str(p["batch_size"]) for p in runs[0]["anatomy"]["points"])
        seconds = statistics.median(run["phases_s"]["sweep"] for run in runs)
        lines.append(f"| {model} | {framework} | {fixed:.2f} | {per_sample:.1f} | {bound} | {sizes} | {seconds:.0f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="mlp,resnet_v2,transformer,lstm")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("results") / time.strftime("sweep-%Y%m%d-%H%M%S"))
    parser.add_argument("--from", dest="existing", type=Path, help="print the table of a finished sweep")
    args = parser.parse_args()
    folder = args.existing or args.out
    if not args.existing:
        print(f"Sweep: {sweep(folder, args.models, args.repeats):.0f} s in all")
    print(f"CPU: {cpu_name()}\n")
    print(table(folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
