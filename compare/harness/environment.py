"""What a result was measured on: versions, CPU/GPU, git commit. Imports no framework."""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

from compare.catalog.frameworks import ENGINES

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Distribution names whose versions go into every record: Keras, each engine's, NumPy.
DISTRIBUTIONS = ("keras", *(name for engine in ENGINES.values() for name in engine.distributions), "numpy")


def package_versions() -> dict[str, str | None]:
    versions = {}
    for name in DISTRIBUTIONS:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# What torch's kernels dispatch to on this CPU ("AVX2", "AVX512", ...), asked of a child
# process so that this one imports no framework.
CPU_CAPABILITY_PROBE = "import torch; print(torch.backends.cpu.get_cpu_capability())"


@functools.cache  # the CPU does not change while this process runs
def cpu_capability() -> str | None:
    """The CPU's instruction-set level by torch's own account; None without torch."""
    try:
        return (
            subprocess.run(
                [sys.executable, "-c", CPU_CAPABILITY_PROBE], capture_output=True, text=True, timeout=120, check=True
            ).stdout.strip()
            or None
        )
    except (subprocess.SubprocessError, OSError):
        return None


def nvidia_gpus() -> list[dict[str, str]]:
    """GPUs as nvidia-smi lists them; [] where there is no NVIDIA driver."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (subprocess.SubprocessError, OSError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        name, driver, memory = (field.strip() for field in line.split(","))
        gpus.append({"name": name, "driver": driver, "memory": memory})
    return gpus


def git_commit() -> str | None:
    """HEAD of the project's checkout, with '-dirty' if files differ; None outside git."""
    try:

        def git(*args: str) -> str:
            return subprocess.run(
                ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()

        commit = git("rev-parse", "HEAD")
        return commit + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (subprocess.SubprocessError, OSError):
        return None


def environment_record() -> dict:
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_threads": usable_cpus(),
        "cpu_capability": cpu_capability(),
        # oneDNN's ceiling, when set: ONEDNN_MAX_CPU_ISA=AVX2 makes an AVX-512 CPU compute as an AVX2 one.
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA"),
        "gpus": nvidia_gpus(),
        "packages": package_versions(),
        "git_commit": git_commit(),
    }
