"""Where the test command's time goes: run it with --durations and print the slowest items,
the seconds per file and the total, so that a change can see what it added.

    python benchmarks/suite_durations.py              # the README's test command, `python -m pytest -n 2`
    python benchmarks/suite_durations.py --top 30 -- tests/test_harness.py   # pytest arguments after --

Not a test: it measures and prints. Durations are each item's own (setup, call, teardown);
with two workers the wall time is about half their sum when the workers stay busy together.
"""

from __future__ import annotations

import argparse
import platform
import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DURATION = re.compile(r"^(\d+\.\d+)s (setup|call|teardown)\s+(\S+)$", re.M)
SUMMARY = re.compile(r"^=*\s*(\d+ (?:passed|failed)\b.*? in [\d.]+s\b.*?)\s*=*$", re.M)  # pytest's last line


def cpu_name() -> str:
    """The CPU as /proc/cpuinfo names it, and the kernels torch dispatches to, when torch is here."""
    names = (
        re.findall(r"^model name\s*: (.*)$", Path("/proc/cpuinfo").read_text(), re.M)
        if Path("/proc/cpuinfo").exists()
        else []
    )
    name = names[0] if names else platform.processor() or "unknown CPU"
    try:
        import torch

        return f"{name}, {len(names) or '?'} threads, torch kernels {torch.backends.cpu.get_cpu_capability()}"
    except ImportError:
        return name


def item_seconds(output: str) -> dict[str, float]:
    """Each test item's setup + call + teardown seconds, from pytest's --durations=0 report."""
    seconds: dict[str, float] = defaultdict(float)
    for value, _, item in DURATION.findall(output):
        seconds[item] += float(value)
    return dict(seconds)


def per_file(seconds: dict[str, float]) -> dict[str, float]:
    files: dict[str, float] = defaultdict(float)
    for item, value in seconds.items():
        files[item.split("::")[0]] += value
    return dict(files)


def table(rows: list[tuple[str, float]], header: str) -> str:
    lines = [f"| {header} | seconds |", "|---|---|"]
    return "\n".join([*lines, *(f"| `{name}` | {value:.1f} |" for name, value in rows)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--top", type=int, default=15, help="how many of the slowest items to print (default 15)")
    parser.add_argument("pytest_args", nargs="*", help="arguments for pytest, after -- (default: -n 2)")
    args = parser.parse_args(argv)
    command = [
        sys.executable,
        "-m",
        "pytest",
        *(args.pytest_args or ["-n", "2"]),
        "--durations=0",
        "--durations-min=0",  # every item, the quickest included
        "-p",
        "no:cacheprovider",
    ]
    print("$", " ".join(command[1:]), f"\non {cpu_name()}", flush=True)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall_s = time.perf_counter() - started
    seconds = item_seconds(done.stdout)
    slowest = sorted(seconds.items(), key=lambda kv: -kv[1])[: args.top]
    print(table(slowest, f"the {len(slowest)} slowest items"))
    print()
    print(table(sorted(per_file(seconds).items(), key=lambda kv: -kv[1]), "file"))
    summary = SUMMARY.findall(done.stdout)
    print(f"\n{summary[-1] if summary else 'no pytest summary (see its output)'}")
    print(f"items summed {sum(seconds.values()):.0f} s; wall time {wall_s // 60:.0f} min {wall_s % 60:.0f} s")
    if done.returncode != 0:
        print(done.stdout[-3000:] + done.stderr[-2000:], file=sys.stderr)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
