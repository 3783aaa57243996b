"""The harness's torch runs against the shortest well-written torch loop, side by side.

    python benchmarks/minimal_loop.py [--models mlp,resnet_v2] [--device cpu|gpu]
                                      [--data sample|full] [--data-dir DIR]
                                      [--batch-size 128] [--compile-mode default]

One run does both, on the same machine and data: first the harness
(`python -m compare`, torch and torch-compile, one epoch per model), then the
minimal loop, eager and compiled in the same mode, on the project's own torch twins:
the images on the device once, batches indexed from them, Adam, cross-entropy, no
DataLoader, no callbacks, one host synchronization at the end of the timed steps, and
float32 in full precision as the harness's default (TF32 off for matmuls and convolutions).
It prints both step times and their ratio, and writes them to --out as JSON.

The harness's figure is the median of its steady steps, each waited for (it reads
every step's loss); the minimal loop's is the mean over its timed steps.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout, installed or not

WARMUP_STEPS = 5  # compilation and cuDNN's algorithm search happen here


def minimal_step_ms(model_name: str, images, labels, batch_size: int, device: str, compile_mode: str | None) -> float:
    """Mean milliseconds per training step of the minimal loop over one epoch's batches."""
    import torch
    import torch.nn.functional as F

    from compare.catalog.registry import MODELS

    torch.manual_seed(0)
    model = MODELS[model_name].torch_class()().to(device)
    step_model = torch.compile(model, mode=compile_mode) if compile_mode else model
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)
    order = torch.randperm(len(labels), device=device)
    batches = [rows for rows in order.split(batch_size) if len(rows) == batch_size]
    graphs = compile_mode == "reduce-overhead" and device == "cuda"

    def step(rows):
        if graphs:
            torch.compiler.cudagraph_mark_step_begin()
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(step_model(images[rows]), labels[rows])
        loss.backward()
        optimizer.step()
        return loss

    for rows in batches[:WARMUP_STEPS]:
        step(rows).item()
    timed = batches[WARMUP_STEPS:]
    started = time.perf_counter()
    for rows in timed:
        loss = step(rows)
    loss.item()  # waits for the device to finish every queued step
    return (time.perf_counter() - started) / len(timed) * 1e3


def harness_step_ms(args: argparse.Namespace, out: Path) -> dict[tuple[str, str], float | None]:
    """The harness's median step time per (model, framework), from one comparison of one epoch."""
    # The full preset: every training image (its epochs cut to one), whatever the data.
    command = [
        sys.executable,
        "-m",
        "compare",
        "--preset",
        "full",
        "--models",
        ",".join(args.models),
        "--frameworks",
        "torch,torch-compile",
        "--epochs",
        "1",
        "--batch-size",
        str(args.batch_size),
        "--data",
        args.data,
        "--device",
        args.device,
        "--compile-mode",
        args.compile_mode,
        "--skip-checks",
        "--out",
        str(out),
    ]
    if args.data_dir:
        command += ["--data-dir", str(args.data_dir)]
    subprocess.run(command, cwd=ROOT, check=False, stdout=subprocess.DEVNULL)
    document = json.loads((out / "results.json").read_text())
    return {
        (run["model"], run["framework"]): run.get("timing", {}).get("step_time_ms_median") for run in document["runs"]
    }


def main(argv: list[str] | None = None) -> int:
    from compare.catalog.frameworks import COMPILE_MODES
    from compare.catalog.registry import MODELS
    from compare.harness.cli import names  # the command line's own list parser

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=names(MODELS, "model"), default=["mlp", "resnet_v2"])
    parser.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--data", choices=["sample", "full"], default="sample")
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--compile-mode", choices=COMPILE_MODES, default="default")
    parser.add_argument("--out", type=Path, help="folder for the harness's results and minimal_loop.json")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="minimal-loop-"))

    harness = harness_step_ms(args, out / "harness")

    import torch

    from compare.data.datasets import load_dataset, unit_interval
    from compare.run.engines import TORCH

    TORCH.set_precision("fp32")  # as the harness ran: torch's own default lets cuDNN convolve in TF32
    device = "cuda" if args.device == "gpu" else "cpu"
    data = load_dataset(args.data_dir, sample=args.data == "sample")
    images = torch.from_numpy(unit_interval(data.x_train)).unsqueeze(1).to(device)  # (N, 1, 28, 28)
    labels = torch.from_numpy(data.y_train).long().to(device)
    rows = []
    for model in args.models:
        for framework, mode in (("torch", None), ("torch-compile", args.compile_mode)):
            minimal = minimal_step_ms(model, images, labels, args.batch_size, device, mode)
            ours = harness.get((model, framework))
            rows.append(
                {
                    "model": model,
                    "framework": framework,
                    "compile_mode": mode,
                    "harness_step_ms_median": ours,
                    "minimal_step_ms_mean": minimal,
                    "ratio": ours / minimal if ours else None,
                }
            )
    print("| model | framework | harness ms/step | minimal loop ms/step | ratio |\n|---|---|---|---|---|")
    for row in rows:
        ours = f"{row['harness_step_ms_median']:.2f}" if row["harness_step_ms_median"] else "failed"
        ratio = f"{row['ratio']:.2f}×" if row["ratio"] else "—"
        print(f"| {row['model']} | {row['framework']} | {ours} | {row['minimal_step_ms_mean']:.2f} | {ratio} |")
    device_name = torch.cuda.get_device_name(0) if device == "cuda" else "CPU"
    record = {
        "device": device_name,
        "torch": torch.__version__,
        "batch_size": args.batch_size,
        "data": args.data,
        "rows": rows,
    }
    (out / "minimal_loop.json").write_text(json.dumps(record, indent=2))
    print(f"\n{device_name}, torch {torch.__version__}, batch {args.batch_size}; results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
