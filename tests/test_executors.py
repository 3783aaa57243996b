"""The executors (compare.harness.executors): one run per GPU at once, never two on one GPU,
every run collected, a failure isolated, Ctrl-C ending every child with the finished runs
kept, and --resume finishing the rest. The runs are made up by tests/fake_worker.py, which
records what each child saw (its CUDA_VISIBLE_DEVICES, its cores, when it ran); the GPU
ids are fake, so no GPU is needed."""

import dataclasses
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from compare.contract.results import load_results
from compare.harness import arguments, cli, orchestrator, resolve
from compare.harness.executors import LocalExecutor, Slot, local_slots
from tests.fake_worker import cli_command, fake_environment

FRAMEWORKS = ["torch", "keras-jax", "keras-tensorflow"]
MADE_UP = {f"mlp--{fw}": [[10, 30, 0.95], [11, 31, 0.96]] for fw in FRAMEWORKS}
BASE = ["--models", "mlp", "--frameworks", ",".join(FRAMEWORKS), "--repeats", "2", "--skip-checks"]


def made_up_plan(tmp_path, monkeypatch, device="gpu"):
    monkeypatch.setattr(orchestrator, "WORKER_COMMAND", [sys.executable, "-m", "tests.fake_worker"])
    monkeypatch.setattr(orchestrator, "make_initial_weights", lambda *_: ({}, "made up"))
    monkeypatch.setenv("FAKE_RESULTS", json.dumps(MADE_UP))
    plan = resolve.make_plan(arguments.run_parser().parse_args([*BASE, "--device", "cpu", "--out", str(tmp_path)]))
    # Fake GPUs: the children only see CUDA_VISIBLE_DEVICES, which is what is tested.
    return dataclasses.replace(plan, settings=dataclasses.replace(plan.settings, device=device))


def overlapping(a: dict, b: dict) -> bool:
    return a["started_at"] < b["ended_at"] and b["started_at"] < a["ended_at"]


def test_one_run_per_gpu_at_once_never_two_on_one_gpu_and_every_run_collected(tmp_path, monkeypatch):
    plan = made_up_plan(tmp_path, monkeypatch)
    monkeypatch.setenv("FAKE_SECONDS", "1.5")
    slots = [Slot("0", (0,)), Slot("1", (1,))]
    document = orchestrator.run_all(plan, executor=LocalExecutor(slots))
    runs = document["runs"]
    assert sorted((r["framework"], r["repeat"]) for r in runs) == sorted(itertools.product(FRAMEWORKS, [0, 1]))
    seen = [r["observed"] for r in runs]
    assert {s["cuda_visible_devices"] for s in seen} == {"0", "1"}
    for run, observed in zip(runs, seen):
        assert run["placement"]["gpus"] == [observed["cuda_visible_devices"]]  # recorded where it ran
        assert run["placement"]["cpus"] == observed["cpus"]  # pinned to its share of the cores
    pairs = [(a, b) for a, b in itertools.combinations(seen, 2) if overlapping(a, b)]
    assert pairs, "two GPUs and six runs of 1.5 s: some ran at the same time"
    for a, b in pairs:
        assert a["cuda_visible_devices"] != b["cuda_visible_devices"]  # never two runs on one GPU
    assert all(r["overlapped_with"] for r in runs)  # each ran beside another
    frameworks_per_gpu = {gpu: {r["framework"] for r in runs if r["placement"]["gpus"] == [gpu]} for gpu in "01"}
    assert all(len(frameworks) > 1 for frameworks in frameworks_per_gpu.values())  # spread, not one GPU each


class FakeRunner:
    """A runner whose jobs are (name, slots needed, seconds); records which slots each held, when."""

    def __init__(self):
        self.held, self.lock = [], threading.Lock()

    def needs(self, job):
        return job[1]

    def run_here(self, job, slots):
        start = time.monotonic()
        time.sleep(job[2])
        with self.lock:
            self.held.append((job[0], {s.gpu for s in slots}, start, time.monotonic()))
        return {"job": job[0]}

    def stop(self):
        pass


def test_a_data_parallel_job_waits_for_all_its_gpus_and_holds_them_alone():
    runner = FakeRunner()
    jobs = [("a", 1, 0.3), ("ddp", 2, 0.3), ("b", 1, 0.2), ("c", 1, 0.2)]
    finished = [r["job"] for r in LocalExecutor(local_slots(["0", "1"], [0, 1])).run(jobs, runner)]
    assert sorted(finished) == ["a", "b", "c", "ddp"]
    ddp = next(h for h in runner.held if h[0] == "ddp")
    assert ddp[1] == {"0", "1"}
    for name, gpus, start, end in runner.held:
        for other in runner.held:
            if other[0] != name and other[2] < end and start < other[3]:
                assert not gpus & other[1], (name, other[0])  # overlapping runs share no GPU


def test_a_failure_does_not_stop_the_others(tmp_path, monkeypatch):
    plan = made_up_plan(tmp_path, monkeypatch)
    monkeypatch.setenv("FAKE_RESULTS", json.dumps({k: v for k, v in MADE_UP.items() if k != "mlp--keras-jax"}))
    monkeypatch.setenv("FAULTS", "mlp--keras-jax=exit")
    document = orchestrator.run_all(plan, executor=LocalExecutor([Slot("0", (0,)), Slot("1", (1,))]))
    status = {(r["framework"], r["repeat"]): r["status"] for r in document["runs"]}
    assert status == {(fw, rep): ("failed" if fw == "keras-jax" else "ok") for fw in FRAMEWORKS for rep in (0, 1)}


def test_several_runs_on_one_cpu_are_refused_unless_accepted_and_then_marked(tmp_path, capsys, monkeypatch):
    refused = cli.main([*BASE, "--device", "cpu", "--gpus", "0,1", "--out", str(tmp_path / "refused")])
    assert refused == cli.EXIT_USAGE
    assert "2 runs at once on the same cores" in capsys.readouterr().err
    assert not (tmp_path / "refused").exists()
    made_up_plan(tmp_path, monkeypatch)  # the fake worker, for the accepted run below
    out = tmp_path / "shared"
    assert cli.main([*BASE, "--device", "cpu", "--gpus", "0,1", "--share-cpu", "--out", str(out)]) == cli.EXIT_OK
    document = load_results(out)
    assert document["settings"]["executor"]["shared_cpu"] is True
    assert all(r["observed"]["cuda_visible_devices"] == "" for r in document["runs"])  # GPUs hidden from CPU runs
    assert "These runs shared one CPU" in (out / "report.md").read_text()


def test_interruption_ends_every_child_keeps_the_finished_runs_and_resume_finishes(tmp_path):
    pids = tmp_path / "pids"
    pids.mkdir()
    out = tmp_path / "out"
    made_up = {k: v for k, v in MADE_UP.items() if k != "mlp--keras-jax"}
    env = {**fake_environment(made_up, "mlp--keras-jax=hang"), "FAKE_PIDS": str(pids)}
    args = [*BASE, "--device", "cpu", "--gpus", "0,1", "--share-cpu", "--out", str(out)]
    process = subprocess.Popen(
        [*cli_command(), *args],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        # As from a terminal: pytest-xdist's workers ignore SIGINT, and a child would inherit that.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # until two runs are in and the hanging ones hold both slots
        runs = json.loads((out / "results.json").read_text())["runs"] if (out / "results.json").exists() else []
        if len(runs) >= 2 and len(list(pids.iterdir())) >= 4:
            break
        time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == cli.EXIT_INTERRUPTED, output
    for pid in (int(p.name) for p in pids.iterdir()):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # every child is gone
    partial = load_results(out)
    assert partial["finished"] is False and partial["runs"] and all(r["status"] == "ok" for r in partial["runs"])

    env["FAKE_RESULTS"], env["FAULTS"] = json.dumps(MADE_UP), ""
    resumed = subprocess.run(
        [*cli_command(), *args, "--resume"],
        env=env,
        text=True,
        capture_output=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    final = load_results(out)
    assert final["finished"] and len(final["runs"]) == 6
    kept = {(r["framework"], r["repeat"]): r for r in final["runs"]}
    for run in partial["runs"]:
        assert kept[(run["framework"], run["repeat"])] == run  # kept as it was, not run again
