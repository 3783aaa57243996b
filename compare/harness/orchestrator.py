"""Run a comparison's plan: one worker process per job (compare.harness.plan), under one
Supervisor (compare.harness.children), and collect the results document as runs finish.

This process never imports keras, torch, jax or tensorflow: each child fixes
its own backend at import, and no two frameworks share a process or fight over
a GPU. A child that fails, hangs past its timeout, is killed (out of memory) or
lacks its package is recorded with the reason and its output's tail; the other
runs go on. results.json is rewritten atomically after every run, so an
interrupted comparison keeps everything that finished.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from compare.catalog.frameworks import ENGINES, FRAMEWORKS, REFERENCE
from compare.contract.job import RunSettings
from compare.contract.progress import PROGRESS_FD, EventHandler
from compare.contract.results import FINISHED, RunStatus
from compare.harness.checks import CHECKS_TIMEOUT_S, checkable_backends, run_checks
from compare.harness.children import EventReader, Supervisor, child_environment, exit_reason, python_module, tail
from compare.harness.display import PlainDisplay, display_for
from compare.harness.executors import LocalExecutor, Placement, Slot, held_slots, local_slots
from compare.harness.plan import (
    Job,
    Plan,
    data_arrays_path,
    devices_for,
    file_stem,
    job_label,
    job_spec,
    plan_jobs,
    write_data_arrays,
)
from compare.harness.results_file import ResultsFile
from compare.lessons import data_parallel

# How a child is started; its arguments are the spec and result paths.
WORKER_COMMAND = [sys.executable, "-m", "compare.run.worker"]


def worker_command(framework: str, devices: int) -> list[str]:
    """torch-ddp starts one worker per device through torchrun; the rest start one."""
    if FRAMEWORKS[framework].data_parallel and FRAMEWORKS[framework].family.process_per_device:
        return [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc-per-node={devices}",
            *WORKER_COMMAND[1:],
        ]
    return WORKER_COMMAND


def run_job(
    plan: Plan,
    job: Job,
    workdir: Path,
    initial_weights: Path | None,
    on_event: EventHandler = lambda event: None,
    slots: list[Slot] | None = None,
    supervisor: Supervisor | None = None,
) -> dict:
    """Run one job in a child process, in `slots` (default: every core, no GPU pinned), and
    return its result entry, with where and when it ran."""
    base, paths = prepare_job(plan, job, workdir, initial_weights)
    missing = FRAMEWORKS[job.framework].missing_modules()
    if missing:
        reason = f"not installed here: no module {', '.join(missing)} ({FRAMEWORKS[job.framework].install_hint})"
        return {**base, "status": RunStatus.NOT_INSTALLED, "error": {"reason": reason}, "wall_time_s": 0.0}
    devices = devices_for(plan, job.framework)
    outcome = execute(
        plan.settings, job.framework, devices, plan.timeout_s, paths, slots, on_event, supervisor=supervisor
    )
    return collect(base, outcome, plan.timeout_s, paths)


@dataclass(frozen=True)
class JobPaths:
    spec: Path
    result: Path
    log: Path


@dataclass(frozen=True)
class Execution:
    """How a worker ended, and where and when it ran: what `collect` needs of it."""

    returncode: int | None
    finished: bool  # False: stopped at the timeout
    wall_time_s: float
    started_at: float  # seconds since the epoch, comparable across hosts
    ended_at: float
    placement: dict


def prepare_job(plan: Plan, job: Job, workdir: Path, initial_weights: Path | None) -> tuple[dict, JobPaths]:
    """The run's record so far, and its spec written where the worker will read it."""
    stem = file_stem(job.model, job.framework, job.variant, job.repeat)
    spec = replace(
        job_spec(plan, job),
        initial_weights=str(initial_weights) if initial_weights else None,
        final_weights=str(workdir / f"{stem}.weights.npz"),
    )
    base = {
        "model": job.model,
        "framework": job.framework,
        "variant": job.variant.name,
        "regularization": asdict(job.variant),
        "budget": asdict(plan.budgets[job.model]),
        "repeat": job.repeat,
        "seed": job.seed,
        "position": job.position,
    }
    paths = JobPaths(*(workdir / f"{stem}{ext}" for ext in (".spec.json", ".result.json", ".log")))
    spec.write(paths.spec)
    paths.result.unlink(missing_ok=True)
    return base, paths


def execute(
    settings: RunSettings,
    framework: str,
    devices: int,
    timeout_s: float,
    paths: JobPaths,
    slots: list[Slot] | None = None,
    on_event: EventHandler = lambda event: None,
    executor: str = "local",
    supervisor: Supervisor | None = None,
) -> Execution:
    """Start the framework's worker in `slots` with a progress pipe and relay its events until
    it exits or the timeout stops it. Runs where the job runs: here (under the comparison's
    `supervisor`), or on a Slurm node."""
    slots, supervisor = slots or local_slots(None), supervisor or Supervisor()
    env = child_environment(framework, settings.device, settings.deterministic, devices)
    gpus = [slot.gpu for slot in slots if slot.gpu is not None]
    if gpus and settings.device == "gpu":
        env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)  # the GPUs this run holds, and no other
    cpus = tuple(sorted(c for slot in slots for c in slot.cpus))
    if len(cpus) < len(os.sched_getaffinity(0)):
        env["OMP_NUM_THREADS"] = str(max(1, len(cpus) // max(devices, 1)))  # the share of cores it holds
    progress_read, progress_write = os.pipe()
    env[PROGRESS_FD] = str(progress_write)
    started, started_at = time.perf_counter(), time.time()
    command = worker_command(framework, devices)
    try:
        process = supervisor.start(
            command, [str(paths.spec), str(paths.result)], env, paths.log, (progress_write,), cpus
        )
    finally:
        os.close(progress_write)  # the child holds its own copy
    try:
        finished = supervisor.wait(process, timeout_s, EventReader(progress_read, on_event))
    finally:
        os.close(progress_read)
    placement = Placement(executor, socket.gethostname(), gpus, list(cpus), os.environ.get("SLURM_JOB_ID"))
    wall_time_s = time.perf_counter() - started
    return Execution(process.returncode, finished, wall_time_s, started_at, time.time(), placement.record())


def collect(base: dict, outcome: Execution, timeout_s: float, paths: JobPaths) -> dict:
    """The result entry: the child's record on top of `base`, or why there is none."""
    base = {
        **base,
        "placement": outcome.placement,
        "started_at": outcome.started_at,
        "ended_at": outcome.ended_at,
        "wall_time_s": outcome.wall_time_s,
    }
    if not outcome.finished:
        reason = f"still running after the {timeout_s} s timeout; stopped (raise it with --timeout)"
        return {**base, "status": RunStatus.TIMEOUT, "error": {"reason": reason, "stderr_tail": tail(paths.log)}}
    if not paths.result.is_file():
        error = {"reason": exit_reason(outcome.returncode), "stderr_tail": tail(paths.log)}
        return {**base, "status": RunStatus.FAILED, "error": error}
    result = {**json.loads(paths.result.read_text()), **base}
    if "phases_s" in result:  # the rest of the wall time: interpreter start, writing, exit
        result["phases_s"]["process_start_and_end"] = outcome.wall_time_s - sum(result["phases_s"].values())
    if result["status"] != RunStatus.OK and "error" in result:
        result["error"]["stderr_tail"] = tail(paths.log)
    return result


def make_initial_weights(
    plan: Plan, folder: Path, seed: int, supervisor: Supervisor | None = None
) -> tuple[dict[str, Path], str]:
    """Each model's shared starting weights from `seed`, made by the torch twins in a child.

    Returns ({model: file}, a sentence for the report). Without torch, or if the
    child fails, every run starts from its own framework's initializer instead.
    """
    if FRAMEWORKS[REFERENCE].missing_modules():
        return {}, f"each framework's own initializer ({REFERENCE}, which makes the shared weights, is not installed)"
    folder.mkdir(parents=True, exist_ok=True)
    log, supervisor = folder / "initial_weights.log", supervisor or Supervisor()
    process = supervisor.start(
        python_module("compare.porting.initial_weights"),
        [str(folder), str(seed), *plan.models],
        child_environment(REFERENCE, "cpu"),
        log,
    )
    if not supervisor.wait(process, plan.timeout_s) or process.returncode != 0:
        return {}, f"each framework's own initializer (making shared weights failed: {tail(log)[-300:]})"
    files = {model: folder / f"{model}.npz" for model in plan.models}
    return files, f"shared: made once by the torch twins from seed {seed}, ported into every framework"


def describe_run(run: dict) -> str:
    if run["status"] in FINISHED:
        accuracy = run["final_test_accuracy"] if run["final_test_accuracy"] is not None else float("nan")
        timing = run["timing"]
        step = timing["step_time_ms_median"]
        step_text = f"{step:.1f} ms/step" if step is not None else "no steady steps"
        text = (
            f"{run['status']}: test acc {accuracy:.2%} | {step_text} | "
            f"first step {timing['time_to_first_step_s']:.1f} s"
        )
        if run["status"] == RunStatus.DIVERGED:
            text += f" | loss not finite at step {run['diverged_at_step']}"
    else:
        text = f"{run['status']}: {run['error']['reason'].splitlines()[0][:160]}"
    return f"{text} | {run['wall_time_s']:.0f} s"


class SharedWeights:
    """Each repeat's shared initial weights (seed + repeat), made when its first run needs them."""

    def __init__(self, plan: Plan, workdir: Path, supervisor: Supervisor):
        self.plan, self.workdir, self.supervisor = plan, workdir, supervisor
        self.made: dict[int, tuple[dict[str, Path], str]] = {}

    def files(self, repeat: int) -> dict[str, Path]:
        if repeat not in self.made:
            folder = self.workdir / ("initial_weights" + (f"-repeat-{repeat}" if repeat else ""))
            self.made[repeat] = make_initial_weights(
                self.plan, folder, self.plan.settings.seed + repeat, self.supervisor
            )
        return self.made[repeat][0]

    def note(self) -> str:
        """The report's sentence on where the weights came from, as repeat 0 found it."""
        self.files(0)
        note = self.made[0][1]
        if self.plan.repeats == 1:
            return note
        return note.replace("made once", "made once per repeat") + " (seed + repeat)"


def run_key(run: dict) -> tuple[str, str, str, int]:
    return (run["model"], run["framework"], run["variant"], run.get("repeat", 0))


def run_all(plan: Plan, display: PlainDisplay | None = None, previous: dict | None = None, executor=None) -> dict:
    """Run every job, saving results.json as each finishes; return the document.

    `executor` runs the jobs (compare.harness.executors; default: one at a time, here). With
    `previous` (an earlier, interrupted document of the same settings), runs that finished
    there are kept and not run again. `display` shows the progress (default: bars in a
    terminal, plain lines otherwise; plain lines, each marked with its GPU, when runs overlap).
    """
    executor = executor or LocalExecutor(local_slots(None))
    supervisor = Supervisor()  # every child of this comparison, to stop them all on Ctrl-C
    workdir = plan.out / "runs"
    workdir.mkdir(parents=True, exist_ok=True)
    results = ResultsFile(plan, executor.describe())
    write_data_arrays(plan)
    jobs = plan_jobs(plan)
    numbers = {job.key: number for number, job in enumerate(jobs, start=1)}
    display = display or display_for(len(jobs), [job.model for job in jobs], concurrent=executor.concurrent)
    weights = SharedWeights(plan, workdir, supervisor)
    runner = JobRunner(plan, workdir, weights, display, executor, numbers, supervisor)
    try:
        results.set_setting("initial_weights", weights.note())
        display.say(f"Initial weights: {weights.note()}")
        run_checks_first(plan, results, workdir, display)
        kept = keep_finished(jobs, previous, results, runner)
        collect_runs(executor.run([job for job in jobs if job.key not in kept], runner), results, runner)
    finally:
        display.close()
        data_arrays_path(plan).unlink(missing_ok=True)  # a copy of the dataset: not worth keeping
    return results.finish(data_parallel_parity(plan, results.document, workdir, weights))


def keep_finished(jobs: list[Job], previous: dict | None, results: ResultsFile, runner: JobRunner) -> set:
    """--resume keeps the runs that trained to their end, repeat by repeat; everything else runs
    again. The keys of the jobs kept."""
    kept = {run_key(run): run for run in (previous or {}).get("runs", []) if run["status"] in FINISHED}
    for job in [job for job in jobs if job.key in kept]:
        runner.display.run_started(runner.numbers[job.key], job_label(runner.plan, job))
        results.add_run(kept[job.key])
        runner.display.run_finished(job.model, 0.0, "kept from the earlier run (--resume)", measured=False)
    return set(kept)


def collect_runs(runs, results: ResultsFile, runner: JobRunner) -> None:
    """Each run as the executor hands it back, saved at once."""
    try:
        for run in runs:
            results.add_run(run)
            where = runner.executor.where(run.get("placement"))
            finished = run["status"] in FINISHED
            runner.display.run_finished(run["model"], run["wall_time_s"], describe_run(run), finished, where)
    finally:
        runs.close()  # Ctrl-C here rather than inside the executor: it still stops every worker


@dataclass
class JobRunner:
    """What every executor asks of the comparison (the shared skeleton): how many slots a job
    holds, how to run one here, how to prepare one to run elsewhere and collect it after,
    and how to stop every worker of this process."""

    plan: Plan
    workdir: Path
    weights: SharedWeights
    display: PlainDisplay
    executor: object
    numbers: dict
    supervisor: Supervisor  # the children started here, which `stop` ends
    task = staticmethod(execute)  # what a job runs where it runs (a Slurm node): `execute(**prepare(job)[2])`

    def needs(self, job: Job) -> int:
        """Slots (GPUs) a job holds: a data-parallel run on GPUs holds one per device."""
        return devices_for(self.plan, job.framework) if self.plan.settings.device == "gpu" else 1

    def started(self, job: Job, where: str = "") -> None:
        self.display.run_started(self.numbers[job.key], job_label(self.plan, job), where)

    def run_here(self, job: Job, slots: list[Slot]) -> dict:
        where = self.executor.where(held_slots(slots).record())
        self.started(job, where)
        initial = self.weights.files(job.repeat).get(job.model)
        return run_job(self.plan, job, self.workdir, initial, self.display.event_at(where), slots, self.supervisor)

    def prepare(self, job: Job) -> tuple[dict, JobPaths, dict]:
        """The run's record so far, its files, and `execute`'s arguments, to run it elsewhere."""
        base, paths = prepare_job(self.plan, job, self.workdir, self.weights.files(job.repeat).get(job.model))
        arguments = {
            "settings": self.plan.settings,
            "framework": job.framework,
            "devices": devices_for(self.plan, job.framework),
            "timeout_s": self.plan.timeout_s,
            "paths": paths,
        }
        return base, paths, arguments

    def collect(self, base: dict, outcome: Execution, paths: JobPaths) -> dict:
        return collect(base, outcome, self.plan.timeout_s, paths)

    def stop(self) -> None:
        self.supervisor.stop_all()


def run_checks_first(plan: Plan, results: ResultsFile, workdir: Path, display: PlainDisplay) -> None:
    """The checks on one backend (the torch backend: the quickest to start), before any run, with
    the parity of the models the plan trains; `python -m compare check` runs them on every backend
    and every model."""
    backends = sorted(checkable_backends(plan.frameworks), key=list(ENGINES).index)[:1] if plan.checks else []
    if backends:
        display.say(f"Parity and framework-difference checks on the Keras {backends[0]} backend ...")
        results.set_checks(run_checks(backends, workdir, CHECKS_TIMEOUT_S, plan.models))


def data_parallel_parity(plan: Plan, document: dict, workdir: Path, weights: SharedWeights) -> list[dict]:
    """Each finished data-parallel run against its single-device twin of the same repeat
    (compare.lessons.data_parallel)."""
    finished = {
        (run["model"], run["variant"], run["framework"], run.get("repeat", 0)): run
        for run in document["runs"]
        if run["status"] == RunStatus.OK
    }
    variants = {variant.name: variant for variant in plan.variants}
    rows = []
    for (model, variant, framework, repeat), run in finished.items():
        twin = FRAMEWORKS[framework].single_device_twin
        if twin is None or (model, variant, twin, repeat) not in finished:
            continue
        files = {
            name: workdir / f"{file_stem(model, name, variants[variant], repeat)}.weights.npz"
            for name in (framework, twin)
        }
        initial = weights.files(repeat).get(model)
        rows.append(data_parallel.parity(run, finished[(model, variant, twin, repeat)], files, initial))
    return rows


def failed_runs(document: dict, frameworks_chosen: bool) -> list[dict]:
    """Runs that make the exit status non-zero. A framework that is not installed, or
    that cannot compute the chosen precision on this machine, counts only when the user
    named it: by default the comparison covers what runs here and reports the rest."""
    bad = {RunStatus.FAILED, RunStatus.TIMEOUT, RunStatus.DIVERGED}
    if frameworks_chosen:
        bad |= {RunStatus.NOT_INSTALLED, RunStatus.UNSUPPORTED}
    return [run for run in document["runs"] if run["status"] in bad]
