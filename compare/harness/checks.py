"""Launching the lessons' children from the parent: the parity and framework-difference checks,
and reading a user's twins, one child per Keras backend, the cores shared among them. Imports no
framework.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from compare.catalog.frameworks import ENGINES, FRAMEWORKS, REFERENCE, keras_backends, keras_framework
from compare.harness.children import Supervisor, child_environment, exit_reason, python_module, tail

CHECKS_TIMEOUT_S = 600


def run_lesson(module: str, arguments: list[str], backends: list[str], folder: Path, timeout_s: float) -> dict:
    """`python -m MODULE RESULT.json ARGUMENTS...`, one child per Keras backend, in parallel:
    {backend: the child's JSON result, or why there is none}."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = module.rsplit(".", 1)[-1]
    # Each child its share of the threads this process may use (OMP_NUM_THREADS, else every core):
    # torch's waiting threads spin on cores the others need (`check`, three children on 2 cores:
    # 129 s with torch's default threads, 109 s with one each).
    allowed = int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)
    threads = str(max(1, allowed // len(backends)))
    supervisor, children = Supervisor(), {}
    for backend in backends:
        env = {**child_environment(keras_framework(backend), "cpu"), "OMP_NUM_THREADS": threads}
        result, log = folder / f"{stem}-{backend}.json", folder / f"{stem}-{backend}.log"
        result.unlink(missing_ok=True)
        process = supervisor.start(python_module(module), [str(result), *arguments], env, log)
        children[backend] = (process, result, log)
    deadline = time.monotonic() + timeout_s
    results = {}
    for backend, (process, result, log) in children.items():
        try:
            finished = supervisor.wait(process, deadline - time.monotonic())
        except BaseException:  # Ctrl-C or SIGTERM: the other backends' children end too
            supervisor.stop_all()
            raise
        if finished and result.is_file():
            results[backend] = json.loads(result.read_text())
        else:
            reason = "timed out" if not finished else exit_reason(process.returncode)
            results[backend] = {"backend": backend, "error": reason, "stderr_tail": tail(log)}
    return results


def run_checks(backends: list[str], folder: Path, timeout_s: float, models: list[str] | None = None) -> dict:
    """Parity (of `models`, or of every model in the catalog) and framework-difference checks,
    one child per Keras backend, in parallel."""
    return run_lesson(CHECKS, models or [], backends, folder, timeout_s)


CHECKS = "compare.lessons.worker"  # parity and the framework differences
TWINS_CHECK = "compare.lessons.twins_check"  # reading and checking a user's twins


def probe_backend() -> str | None:
    """The Keras backend a user's twins file is first read under: the one KERAS_BACKEND names, or
    the first installed in the catalog's order (torch's, which the file imports anyway)."""
    installed = checkable_backends([keras_framework(b) for b in keras_backends()])
    preferred = [os.environ.get("KERAS_BACKEND"), *ENGINES]
    return next((b for b in preferred if b in installed), None)


def describe_twins(references: list[str], folder: Path) -> list[dict]:
    """What the catalog needs of each reference (compare.catalog.registry.twins_spec), read in
    a child, which also builds the twins and ports their weights. Raises ValueError with the
    child's words when a reference cannot be used."""
    backend = probe_backend()
    if backend is None:
        raise ValueError(
            "--twins needs torch and a Keras backend; install them with `pip install -r requirements-cpu.txt`."
        )
    result = run_lesson(TWINS_CHECK, ["describe", *references], [backend], folder, CHECKS_TIMEOUT_S)[backend]
    if "twins" not in result:
        raise ValueError(
            result.get("refused")
            or f"reading {', '.join(references)} failed: {result.get('error')}\n"
            f"{result.get('traceback') or result.get('stderr_tail', '')}"
        )
    return result["twins"]


def checkable_backends(frameworks: list[str]) -> list[str]:
    """Keras backends among `frameworks` that are installed; the checks also need torch."""
    if FRAMEWORKS[REFERENCE].missing_modules():
        return []
    return [
        FRAMEWORKS[f].keras_backend
        for f in frameworks
        if FRAMEWORKS[f].keras_backend and not FRAMEWORKS[f].missing_modules()
    ]
