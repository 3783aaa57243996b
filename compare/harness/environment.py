"""What a result was measured on: versions, CPU/GPU, git commit. Imports no framework."""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
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
# The probe's answers, kept: asking costs a torch import (2 s on the 2-core EPYC) in every
# comparison, and the answer depends only on what `capability_key` names.
CAPABILITY_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "keras-torch-compare" / "cpu.json"


def cpu_flags() -> str:
    """The CPU's feature flags, as /proc/cpuinfo lists them; "" where there is none."""
    try:
        return next((line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")), "")
    except OSError:
        return ""


def capability_key() -> str:
    """Everything torch's answer depends on: this interpreter, torch's version, its override, the CPU's flags."""
    try:
        torch_version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        torch_version = None
    flags = hashlib.sha256(cpu_flags().encode()).hexdigest()[:16]
    return f"{sys.executable}|torch {torch_version}|{os.environ.get('ATEN_CPU_CAPABILITY', '')}|{flags}"


def read_capability_cache() -> dict[str, str]:
    try:
        cached = json.loads(CAPABILITY_CACHE.read_text())
        return cached if isinstance(cached, dict) else {}
    except (OSError, ValueError):
        return {}


def remember_capability(key: str, capability: str) -> None:
    """Add one answer to the cache, written whole or not at all; a cache that cannot be written is skipped."""
    try:
        CAPABILITY_CACHE.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".cpu.", dir=CAPABILITY_CACHE.parent)
        with os.fdopen(fd, "w") as out:
            json.dump({**read_capability_cache(), key: capability}, out)
        os.replace(tmp, CAPABILITY_CACHE)
    except OSError:
        pass


@functools.cache  # the CPU does not change while this process runs
def cpu_capability() -> str | None:
    """The CPU's instruction-set level by torch's own account; None without torch."""
    key = capability_key()
    cached = read_capability_cache().get(key)
    if cached:
        return cached
    try:
        capability = subprocess.run(
            [sys.executable, "-c", CPU_CAPABILITY_PROBE], capture_output=True, text=True, timeout=120, check=True
        ).stdout.strip()
    except (subprocess.SubprocessError, OSError):
        return None
    if capability:
        remember_capability(key, capability)
    return capability or None


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
