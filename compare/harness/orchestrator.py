"""Plan the runs, start one worker process per (model, framework), collect results.

This process never imports keras, torch, jax or tensorflow: each child fixes
its own backend at import, and no two frameworks share a process or fight over
a GPU. A child that fails, hangs past its timeout, is killed (out of memory) or
lacks its package is recorded with the reason and its output's tail; the other
runs go on. results.json is rewritten atomically after every run, so an
interrupted comparison keeps everything that finished.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from compare.catalog.frameworks import ENGINES, FRAMEWORKS, REFERENCE, keras_backends, keras_framework
from compare.catalog.registry import ADAM_EPSILON, VALIDATION_FRACTION, Budget, Preset, Regularization
from compare.contract.job import JobSpec, RunSettings
from compare.contract.progress import PROGRESS_FD, EventHandler
from compare.contract.results import FINISHED, SCHEMA_VERSION, RunStatus, write_json_atomic
from compare.data.datasets import Dataset
from compare.harness.display import PlainDisplay, display_for
from compare.harness.environment import environment_record
from compare.harness.executors import LocalExecutor, Placement, Slot, held_slots, local_slots, overlaps
from compare.lessons import data_parallel
from compare.report import statistics

WARMUP_STEPS = 3  # steps after the first (compiling) one left out of the steady state
LATENCY_REPEATS = 20
EVAL_BATCH_SIZE = 1000
# The large-batch latency: 1,000 images on a GPU; on a CPU, where one such
# prediction of ResNetV2 takes seconds, 64 keep its repeats affordable.
INFERENCE_BATCH_SIZE = {"gpu": 1000, "cpu": 64}
OUTPUT_TAIL_CHARS = 3000
# How a child is started; its arguments are the spec and result paths.
WORKER_COMMAND = [sys.executable, "-m", "compare.run.worker"]
CHECKS_TIMEOUT_S = 600


@dataclass(frozen=True)
class Plan:
    preset: Preset
    budgets: dict[str, Budget]  # the preset's, after --epochs/--batch-size
    models: list[str]
    frameworks: list[str]
    frameworks_chosen: bool  # named by the user: a missing one is then a failure
    data: Dataset
    targets: dict[str, float]  # {model: test accuracy every framework must reach}; {} when none applies
    settings: RunSettings  # what every run shares and its results depend on
    timeout_s: int
    out: Path
    checks: bool = True  # run the parity and difference checks on one backend first
    variants: tuple[Regularization, ...] = field(default=(Regularization(),))
    repeats: int = 1  # repeat i trains every framework from seed `settings.seed + i`

    @property
    def validation_fraction(self) -> float:
        return VALIDATION_FRACTION if any(v.early_stopping_patience for v in self.variants) else 0.0


def settings_record(plan: Plan) -> dict:
    return {
        "preset": plan.preset.name,
        "preset_description": plan.preset.description,
        **asdict(plan.settings),
        "repeats": plan.repeats,
        "adam_epsilon": ADAM_EPSILON,
        "warmup_steps": WARMUP_STEPS,
        "latency_repeats": LATENCY_REPEATS,
        "timeout_s": plan.timeout_s,
        "validation_fraction": plan.validation_fraction,
        "variants": [asdict(variant) for variant in plan.variants],
        "data": {
            "dataset": plan.data.name,
            "kind": "sample" if plan.data.is_sample else "full",
            "source": plan.data.describe(),
            "is_full": plan.data.is_full,
        },
        "targets": plan.targets,
        "models": plan.models,
        "frameworks": plan.frameworks,
    }


@dataclass(frozen=True)
class Job:
    """One run of the comparison: a (model, variant, framework) in one repeat."""

    model: str
    variant: Regularization
    framework: str
    repeat: int  # 0-based
    seed: int  # the plan's seed + repeat: weights, data order, dropout and augmentation
    position: int  # the framework's turn within its model and repeat, 0-based

    @property
    def key(self) -> tuple[str, str, str, int]:
        return (self.model, self.framework, self.variant.name, self.repeat)


def plan_jobs(plan: Plan) -> list[Job]:
    """Every run, repeat after repeat. Within a repeat each model's frameworks run in
    turn, and the turn rotates by one from repeat to repeat, so a slow drift of the
    machine (heat, a neighbour) falls on every framework alike."""
    jobs = []
    for repeat in range(plan.repeats):
        shift = repeat % len(plan.frameworks)
        turn = plan.frameworks[shift:] + plan.frameworks[:shift]
        for model in plan.models:
            for variant in plan.variants:
                jobs += [
                    Job(model, variant, framework, repeat, plan.settings.seed + repeat, position)
                    for position, framework in enumerate(turn)
                ]
    return jobs


def devices_for(plan: Plan, framework: str) -> int:
    return plan.settings.dp_devices if FRAMEWORKS[framework].data_parallel else 1


def job_spec(plan: Plan, job: Job) -> JobSpec:
    budget = plan.budgets[job.model]
    return JobSpec(
        **asdict(replace(plan.settings, seed=job.seed)),
        model=job.model,
        framework=job.framework,
        devices=devices_for(plan, job.framework),
        variant=job.variant.name,
        regularization=job.variant,
        validation_fraction=plan.validation_fraction,
        dataset=plan.data.name,
        # The arrays this process verified (checksums, shapes), saved once: no worker reads IDX files.
        arrays=str(data_arrays_path(plan)),
        epochs=budget.epochs,
        batch_size=budget.batch_size,
        learning_rate=budget.learning_rate,
        schedule=budget.schedule,
        train_samples=budget.train_samples,
        test_samples=budget.test_samples,
        target_accuracy=plan.targets.get(job.model),
        adam_epsilon=ADAM_EPSILON,
        warmup_steps=WARMUP_STEPS,
        latency_repeats=LATENCY_REPEATS,
        eval_batch_size=EVAL_BATCH_SIZE,
        inference_batch_size=INFERENCE_BATCH_SIZE[plan.settings.device],
    )


DATA_ARRAYS = "data.npz"


def data_arrays_path(plan: Plan) -> Path:
    return plan.out / "runs" / DATA_ARRAYS


def write_data_arrays(plan: Plan) -> None:
    """The verified uint8 arrays, for every worker to load in a fraction of a second."""
    path = data_arrays_path(plan)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    data = plan.data
    np.savez(partial, x_train=data.x_train, y_train=data.y_train, x_test=data.x_test, y_test=data.y_test)
    os.replace(partial, path)  # whole or absent: a worker never reads half a file


def child_environment(framework: str, device: str, deterministic: bool = False, devices: int = 1) -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    spec = FRAMEWORKS[framework]
    if spec.keras_backend:
        env["KERAS_BACKEND"] = spec.keras_backend
    else:
        env.pop("KERAS_BACKEND", None)
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""  # hide GPUs from every framework
        env["JAX_PLATFORMS"] = "cpu"
        if spec.data_parallel and not spec.family.process_per_device:
            # JAX shows one CPU device unless told to split the host into several.
            env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={devices}").strip()
        if spec.data_parallel and spec.family.process_per_device:
            env["GLOO_SOCKET_IFNAME"] = "lo"  # gloo on the loopback interface only
            env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // devices))  # share the cores
    else:
        if spec.data_parallel:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, range(devices)))
        env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"  # JAX would take 75% of the GPU
        env["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"  # TensorFlow would take all of it
    if deterministic:
        env["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"  # torch's deterministic cuBLAS needs it
        env["TF_DETERMINISTIC_OPS"] = "1"
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_gpu_deterministic_ops=true").strip()
    return env


def tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-OUTPUT_TAIL_CHARS:]
    except OSError:
        return ""


def stop_process_group(process: subprocess.Popen) -> None:
    """SIGTERM the child and everything it started, then SIGKILL what is left."""
    for sig, grace_s in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace_s)
            return
        except subprocess.TimeoutExpired:
            continue


def exit_reason(returncode: int) -> str:
    if returncode < 0:
        name = signal.Signals(-returncode).name
        hint = " (the out-of-memory killer sends SIGKILL)" if name == "SIGKILL" else ""
        return f"the worker was killed by {name}{hint}"
    return f"the worker exited with status {returncode} without writing a result"


LIVE_CHILDREN: set[subprocess.Popen] = set()  # every worker running now, to stop them all on Ctrl-C
LIVE_LOCK = threading.Lock()
STOPPING = threading.Event()  # set by stop_live_children: a worker that starts after it is stopped at once


def start_child(
    module: list[str],
    args: list[str],
    env: dict[str, str],
    log_path: Path,
    pass_fds: tuple[int, ...] = (),
    cpus: tuple[int, ...] | None = None,
) -> subprocess.Popen:
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [*module, *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, so a timeout kills all of it
            pass_fds=pass_fds,
        )
    if cpus is not None:
        # Set at once, while the new interpreter has one thread: every thread and process it starts inherits it.
        os.sched_setaffinity(process.pid, cpus)
    with LIVE_LOCK:
        LIVE_CHILDREN.add(process)
        stopping = STOPPING.is_set()
    if stopping:  # it started in a thread while Ctrl-C was stopping the others
        stop_process_group(process)
    return process


def stop_live_children() -> None:
    """Stop every worker still running (Ctrl-C, SIGTERM): each one's whole process group."""
    with LIVE_LOCK:
        STOPPING.set()
        children = list(LIVE_CHILDREN)
    for process in children:
        stop_process_group(process)


class EventReader:
    """Reads the child's progress events (JSON lines) from a pipe, in a thread of its
    own that sleeps in a blocking read until the child writes: the parent never
    polls, so it never wakes on a timer and takes a core from the child (polling made
    some CPU inference calls in the child far slower on a machine with few cores)."""

    def __init__(self, fd: int, on_event: EventHandler):
        self.fd, self.on_event = fd, on_event
        self.thread = threading.Thread(target=self.read_until_closed, daemon=True)

    def read_until_closed(self) -> None:
        pending = b""
        while chunk := os.read(self.fd, 65536):  # b"" once the child has exited
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    continue  # progress is best effort: a garbled line is skipped
                self.on_event(event)


def wait_child(process: subprocess.Popen, timeout_s: float, events: EventReader | None = None) -> bool:
    """Wait for the child, handing on its progress events; False (after stopping
    it) if it outlives `timeout_s`. Blocks without polling: a timer thread fires
    once, at the deadline."""
    timed_out = threading.Event()

    def stop_at_deadline() -> None:
        timed_out.set()
        stop_process_group(process)

    timer = threading.Timer(max(timeout_s, 0), stop_at_deadline)
    timer.daemon = True
    timer.start()
    if events is not None:
        events.thread.start()
    try:
        process.wait()
    except BaseException:  # Ctrl-C or SIGTERM: take the child down too
        stop_process_group(process)
        raise
    finally:
        timer.cancel()
        with LIVE_LOCK:
            LIVE_CHILDREN.discard(process)
    if events is not None:
        events.thread.join(timeout=5)  # the last events, up to the pipe's end
    return not timed_out.is_set()


def python_module(name: str) -> list[str]:
    return [sys.executable, "-m", name]


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


def file_stem(model: str, framework: str, variant: Regularization, repeat: int = 0) -> str:
    stem = f"{model}--{framework}"
    if variant != Regularization():
        stem += "--" + re.sub(r"[^a-z0-9]+", "-", variant.name.lower()).strip("-")
    return stem + (f"--repeat-{repeat}" if repeat else "")


def run_job(
    plan: Plan,
    job: Job,
    workdir: Path,
    initial_weights: Path | None,
    on_event: EventHandler = lambda event: None,
    slots: list[Slot] | None = None,
) -> dict:
    """Run one job in a child process, in `slots` (default: every core, no GPU pinned), and
    return its result entry, with where and when it ran."""
    base, paths = prepare_job(plan, job, workdir, initial_weights)
    missing = FRAMEWORKS[job.framework].missing_modules()
    if missing:
        reason = f"not installed here: no module {', '.join(missing)} ({FRAMEWORKS[job.framework].install_hint})"
        return {**base, "status": RunStatus.NOT_INSTALLED, "error": {"reason": reason}, "wall_time_s": 0.0}
    devices = devices_for(plan, job.framework)
    outcome = execute(plan.settings, job.framework, devices, plan.timeout_s, paths, slots, on_event)
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
) -> Execution:
    """Start the framework's worker in `slots` with a progress pipe and relay its events until
    it exits or the timeout stops it. Runs where the job runs: here, or on a Slurm node."""
    slots = slots or local_slots(None)
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
        process = start_child(command, [str(paths.spec), str(paths.result)], env, paths.log, (progress_write,), cpus)
    finally:
        os.close(progress_write)  # the child holds its own copy
    try:
        finished = wait_child(process, timeout_s, EventReader(progress_read, on_event))
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


def make_initial_weights(plan: Plan, folder: Path, seed: int) -> tuple[dict[str, Path], str]:
    """Each model's shared starting weights from `seed`, made by the torch twins in a child.

    Returns ({model: file}, a sentence for the report). Without torch, or if the
    child fails, every run starts from its own framework's initializer instead.
    """
    if FRAMEWORKS[REFERENCE].missing_modules():
        return {}, f"each framework's own initializer ({REFERENCE}, which makes the shared weights, is not installed)"
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "initial_weights.log"
    process = start_child(
        python_module("compare.porting.initial_weights"),
        [str(folder), str(seed), *plan.models],
        child_environment(REFERENCE, "cpu"),
        log,
    )
    if not wait_child(process, plan.timeout_s) or process.returncode != 0:
        return {}, f"each framework's own initializer (making shared weights failed: {tail(log)[-300:]})"
    files = {model: folder / f"{model}.npz" for model in plan.models}
    return files, f"shared: made once by the torch twins from seed {seed}, ported into every framework"


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
    children = {}
    for backend in backends:
        env = {**child_environment(keras_framework(backend), "cpu"), "OMP_NUM_THREADS": threads}
        result, log = folder / f"{stem}-{backend}.json", folder / f"{stem}-{backend}.log"
        result.unlink(missing_ok=True)
        children[backend] = (start_child(python_module(module), [str(result), *arguments], env, log), result, log)
    deadline = time.monotonic() + timeout_s
    results = {}
    for backend, (process, result, log) in children.items():
        finished = wait_child(process, deadline - time.monotonic())
        if finished and result.is_file():
            results[backend] = json.loads(result.read_text())
        else:
            reason = "timed out" if not finished else exit_reason(process.returncode)
            results[backend] = {"backend": backend, "error": reason, "stderr_tail": tail(log)}
    return results


def run_checks(backends: list[str], folder: Path, timeout_s: float, models: list[str] | None = None) -> dict:
    """Parity (of `models`, or of every model in the catalog) and framework-difference checks,
    one child per Keras backend, in parallel."""
    return run_lesson("compare.lessons.worker", models or [], backends, folder, timeout_s)


TWINS_CHECK = "compare.lessons.twins_check"


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


def new_document(plan: Plan) -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "name": "keras-torch-compare",
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "finished": False,
        "settings": settings_record(plan),
        "environment": environment_record(),
        "runs": [],
    }


def resumable(plan: Plan, previous: dict) -> dict:
    """The earlier document, if it was made with the same settings; else an error. The
    number of repeats may differ: --resume --repeats N adds repeats to a comparison."""
    same = ["preset", *(setting.name for setting in fields(RunSettings)), "variants"]
    now = settings_record(plan)
    changed = [key for key in same if previous["settings"].get(key) != now[key]]
    if previous["settings"]["data"]["source"] != plan.data.describe():
        changed.append("data")
    if changed:
        raise ValueError(
            f"--resume: {plan.out}/results.json was made with different {', '.join(changed)}; "
            f"resume with the same settings, or choose a new --out folder."
        )
    return previous


class SharedWeights:
    """Each repeat's shared initial weights (seed + repeat), made when its first run needs them."""

    def __init__(self, plan: Plan, workdir: Path):
        self.plan, self.workdir = plan, workdir
        self.made: dict[int, tuple[dict[str, Path], str]] = {}

    def files(self, repeat: int) -> dict[str, Path]:
        if repeat not in self.made:
            folder = self.workdir / ("initial_weights" + (f"-repeat-{repeat}" if repeat else ""))
            self.made[repeat] = make_initial_weights(self.plan, folder, self.plan.settings.seed + repeat)
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
    STOPPING.clear()
    workdir = plan.out / "runs"
    workdir.mkdir(parents=True, exist_ok=True)
    document = new_document(plan)
    document["settings"]["executor"] = executor.describe()
    # --resume keeps the runs that trained to their end, repeat by repeat; everything else runs again.
    kept = {run_key(run): run for run in (previous or {}).get("runs", []) if run["status"] in FINISHED}
    results_path = plan.out / "results.json"
    write_json_atomic(results_path, document)
    write_data_arrays(plan)
    jobs = plan_jobs(plan)
    numbers = {job.key: number for number, job in enumerate(jobs, start=1)}
    display = display or display_for(len(jobs), [job.model for job in jobs], concurrent=executor.concurrent)
    weights = SharedWeights(plan, workdir)

    runner = JobRunner(plan, workdir, weights, display, executor, numbers)

    try:
        document["settings"]["initial_weights"] = weights.note()
        display.say(f"Initial weights: {document['settings']['initial_weights']}")
        run_checks_first(plan, document, workdir, display)
        for job in [job for job in jobs if job.key in kept]:
            display.run_started(numbers[job.key], job_label(plan, job))
            document["runs"].append(kept[job.key])
            write_json_atomic(results_path, document)
            display.run_finished(job.model, 0.0, "kept from the earlier run (--resume)", measured=False)
        runs = executor.run([job for job in jobs if job.key not in kept], runner)
        try:
            for run in runs:
                document["runs"].append(run)
                overlaps(document["runs"])
                write_json_atomic(results_path, document)
                where = executor.where(run.get("placement"))
                finished = run["status"] in FINISHED
                display.run_finished(run["model"], run["wall_time_s"], describe_run(run), finished, where)
        finally:
            runs.close()  # Ctrl-C here rather than inside the executor: it still stops every worker
    finally:
        display.close()
        data_arrays_path(plan).unlink(missing_ok=True)  # a copy of the dataset: not worth keeping
    document["data_parallel"] = data_parallel_parity(plan, document, workdir, weights)
    statistics.complete(document)  # aggregates, rankings and their intervals (without SciPy: said, for later)
    document["finished"] = True
    write_json_atomic(results_path, document)
    return document


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
        return run_job(self.plan, job, self.workdir, initial, self.display.event_at(where), slots)

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
        stop_live_children()


def job_label(plan: Plan, job: Job) -> str:
    named = f" ({job.variant.name})" if len(plan.variants) > 1 else ""
    repeat = f", repeat {job.repeat + 1}/{plan.repeats} (seed {job.seed})" if plan.repeats > 1 else ""
    return f"{job.model}{named} on {job.framework}{repeat}"


def run_checks_first(plan: Plan, document: dict, workdir: Path, display: PlainDisplay) -> None:
    """The checks on one backend (the torch backend: the quickest to start), before any run, with
    the parity of the models the plan trains; `python -m compare check` runs them on every backend
    and every model."""
    backends = sorted(checkable_backends(plan.frameworks), key=list(ENGINES).index)[:1] if plan.checks else []
    if backends:
        display.say(f"Parity and framework-difference checks on the Keras {backends[0]} backend ...")
        document["checks"] = run_checks(backends, workdir, CHECKS_TIMEOUT_S, plan.models)
        write_json_atomic(plan.out / "results.json", document)


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
