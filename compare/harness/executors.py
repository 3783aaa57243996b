"""Where the runs of a comparison execute: here, one at a time or one per GPU at once
(`LocalExecutor`), or as a Slurm job array (`SlurmExecutor`, through submitit).

An executor takes jobs and a function that runs one job in a slot, and yields each result as
it finishes. Every executor is given the same function (compare.harness.orchestrator.run_job),
so results.json, the folder lock and --resume are the same whichever runs the jobs. Nothing
here imports a framework.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass


@dataclass(frozen=True)
class Slot:
    """One place a run can hold: a GPU (None on a CPU) and a share of this host's cores."""

    gpu: str | None
    cpus: tuple[int, ...]


@dataclass(frozen=True)
class Placement:
    """Where a run ran, as its result records it (`placement`)."""

    executor: str
    host: str
    gpus: list[str]
    cpus: list[int]
    slurm_job_id: str | None = None

    def record(self) -> dict:
        return dataclasses.asdict(self)


def held_slots(slots: list[Slot]) -> Placement:
    return Placement(
        "local",
        socket.gethostname(),
        [s.gpu for s in slots if s.gpu is not None],
        sorted(c for s in slots for c in s.cpus),
    )


def local_slots(gpus: list[str] | None, cpus: list[int] | None = None) -> list[Slot]:
    """One slot per GPU, each with an equal share of the cores; one slot of every core without GPUs."""
    cpus = sorted(cpus if cpus is not None else os.sched_getaffinity(0))
    if not gpus:
        return [Slot(None, tuple(cpus))]
    share = max(1, len(cpus) // len(gpus))
    return [Slot(gpu, tuple(cpus[i * share : (i + 1) * share] or cpus)) for i, gpu in enumerate(gpus)]


@dataclass
class LocalExecutor:
    """Runs here, up to one run per slot at once. A job that needs several devices (data
    parallel on GPUs) waits until that many slots are free and holds them all; no slot is
    ever held by two runs. One slot of every core, no GPU pinned: today's one at a time."""

    slots: list[Slot]
    shared_cpu: bool = False  # several runs at once with no GPUs: they share the cores (--share-cpu)

    name = "local"

    @property
    def concurrent(self) -> bool:
        return len(self.slots) > 1

    def describe(self) -> dict:
        return {
            "name": self.name,
            "host": socket.gethostname(),
            "slots": [{"gpu": slot.gpu, "cpus": list(slot.cpus)} for slot in self.slots],
            "concurrent": self.concurrent,
            "shared_cpu": self.shared_cpu,
        }

    def where(self, placement: dict | None) -> str:
        """The display's mark for a run: its GPUs, or its cores when several runs share a CPU."""
        if not self.concurrent or not placement:
            return ""
        if placement["gpus"]:
            return "gpu " + ",".join(placement["gpus"])
        return f"cpus {placement['cpus'][0]}-{placement['cpus'][-1]}"

    def run(self, jobs: list, runner) -> Iterator[dict]:
        """Each job's result (runner.run_here), in the order they finish. On Ctrl-C every
        worker is stopped (runner.stop) before the exception goes on."""
        pending, free = deque(jobs), list(self.slots)
        running: dict[Future, list[Slot]] = {}
        with ThreadPoolExecutor(max_workers=len(self.slots)) as pool:
            try:
                while pending or running:
                    while pending and runner.needs(pending[0]) <= len(free):
                        job = pending.popleft()
                        taken, free = free[: runner.needs(job)], free[runner.needs(job) :]
                        running[pool.submit(runner.run_here, job, taken)] = taken
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        released = running.pop(future)
                        free = [slot for slot in self.slots if slot in free or slot in released]
                        yield future.result()
            except BaseException:
                for future in running:
                    future.cancel()
                runner.stop()
                raise


def overlaps(runs: list[dict]) -> None:
    """Record in each run which others ran at the same time (`overlapped_with`), by their
    recorded start and end, and on which host."""
    timed = [r for r in runs if r.get("started_at") is not None and r.get("ended_at") is not None]
    for run in timed:
        run["overlapped_with"] = [
            f"{other['model']} on {other['framework']} (repeat {other.get('repeat', 0)}, "
            f"{other.get('placement', {}).get('host', '?')})"
            for other in timed
            if other is not run and other["started_at"] < run["ended_at"] and run["started_at"] < other["ended_at"]
        ]


@dataclass(frozen=True)
class SlurmOptions:
    partition: str | None = None
    time_min: int = 60  # per run, as Slurm's --time
    gpus_per_run: int = 0  # a data-parallel run asks for its own number of devices
    cpus_per_run: int = 1
    array_parallelism: int = 64  # runs of one array at once
    folder: str | None = None  # submitit's files (logs, pickles); default: the results folder's runs/slurm


# Slurm job states in which a job is over (scontrol's JobState); any but COMPLETED is a failure.
SLURM_ENDED = (
    "COMPLETED",
    "FAILED",
    "TIMEOUT",
    "CANCELLED",
    "PREEMPTED",
    "NODE_FAIL",
    "OUT_OF_MEMORY",
    "BOOT_FAIL",
    "DEADLINE",
)
SLURM_POLL_S = 2.0


def slurm_state(job_id: str) -> tuple[str, str]:
    """(JobState, Reason) of a job by `scontrol show job`, which needs no accounting database
    (sacct does). A job Slurm no longer knows (a pending array task cancelled, or a record
    purged after MinJobAge) is ("GONE", what scontrol said): over, with no result to wait for."""
    done = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True)
    fields = dict(item.split("=", 1) for item in done.stdout.split() if "=" in item)
    if "JobState" not in fields:
        return "GONE", (done.stderr or done.stdout).strip() or "no record"
    return fields["JobState"], fields.get("Reason", "None")


@dataclass
class SlurmExecutor:
    """Submits the runs as Slurm job arrays through submitit, one array per number of GPUs a
    run needs; each array task runs one worker on its node and returns how it ended, and the
    results are collected here as the tasks end. A task Slurm ends without a result (time
    limit, preemption, a lost node, scancel) is recorded with Slurm's job state and reason.
    Ctrl-C cancels (scancel) what is queued or running and keeps what finished."""

    options: SlurmOptions
    out: str  # the results folder, on a file system the nodes share

    name = "slurm"
    concurrent = True

    def describe(self) -> dict:
        return {"name": self.name, "concurrent": True, "shared_cpu": False, **vars(self.options)}

    def where(self, placement: dict | None) -> str:
        if not placement:
            return "slurm"
        return f"slurm {placement.get('slurm_job_id') or '?'} on {placement['host']}"

    def submitter(self, gpus: int):
        import submitit  # only here: the local executor needs no Slurm library

        folder = self.options.folder or os.path.join(self.out, "runs", "slurm")
        submitter = submitit.AutoExecutor(folder=folder, cluster="slurm")
        submitter.update_parameters(
            timeout_min=self.options.time_min,
            cpus_per_task=self.options.cpus_per_run,
            gpus_per_node=gpus or None,
            slurm_partition=self.options.partition,
            slurm_array_parallelism=self.options.array_parallelism,
            name="keras-torch-compare",
        )
        return submitter

    def run(self, jobs: list, runner) -> Iterator[dict]:
        prepared = {id(job): runner.prepare(job) for job in jobs}
        submitted = []
        try:
            for gpus in sorted({runner.needs(job) if self.options.gpus_per_run else 0 for job in jobs}):
                group = [job for job in jobs if (runner.needs(job) if self.options.gpus_per_run else 0) == gpus]
                submitter = self.submitter(gpus * self.options.gpus_per_run)
                with submitter.batch():  # one array: one sbatch for the whole group
                    tasks = [submitter.submit(runner.task, **prepared[id(job)][2], executor="slurm") for job in group]
                submitted += list(zip(group, tasks))
            for job, task in submitted:
                runner.started(job, f"slurm {task.job_id}")
            waiting = list(submitted)
            while waiting:
                for job, task in list(waiting):
                    result = self.ended(job, task, runner, prepared[id(job)])
                    if result is not None:
                        waiting.remove((job, task))
                        yield result
                if waiting:
                    time.sleep(SLURM_POLL_S)
        except BaseException:
            for _, task in submitted:
                if not task.paths.result_pickle.exists():
                    task.cancel(check=False)  # scancel
            raise

    def ended(self, job, task, runner, prepared) -> dict | None:
        """The run's result entry once its task is over, else None."""
        base, paths, _ = prepared
        if task.paths.result_pickle.exists():
            try:
                return runner.collect(base, task.result(), paths)
            except Exception as error:  # the task's Python raised: its traceback, from the node
                return {
                    **base,
                    "status": "failed",
                    "wall_time_s": 0.0,
                    "error": {"reason": f"Slurm task {task.job_id}: {error}"},
                }
        state, reason = slurm_state(task.job_id)
        if state.split()[0] not in SLURM_ENDED:
            return None
        placement = {"executor": self.name, "host": "?", "gpus": [], "cpus": [], "slurm_job_id": task.job_id}
        error = {
            "reason": f"Slurm ended job {task.job_id} as {state} (reason: {reason}) without a result",
            "slurm_state": state,
        }
        return {**base, "status": "failed", "wall_time_s": 0.0, "placement": placement, "error": error}
