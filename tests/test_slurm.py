"""The Slurm executor against a real single-node Slurm (tests/slurm_cluster.py), not a mock:
a smoke comparison submitted as a job array, collected into results.json. Where Slurm cannot
be started here, the test fails and says why."""

import re
import subprocess
import sys
import time

import pytest

from compare.catalog.registry import EXTRA_MODELS
from compare.contract.results import load_results
from tests.slurm_cluster import SlurmCluster


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm")).start()  # SlurmUnavailable: the test fails with why
    yield cluster
    cluster.stop()


def test_a_smoke_comparison_runs_as_a_slurm_job_array_and_is_collected(slurm, tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "compare", "--preset", "smoke", "--models", "mlp", "--frameworks", "torch"]
    command += ["--repeats", "2", "--device", "cpu", "--skip-checks", "--out", str(out)]
    command += ["--executor", "slurm", "--slurm-partition", "debug", "--slurm-time", "10"]
    result = subprocess.run(command, env=slurm.env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    document = load_results(out)
    assert document["settings"]["executor"]["name"] == "slurm"
    runs = document["runs"]
    assert sorted(run["repeat"] for run in runs) == [0, 1]
    array_ids = set()
    for run in runs:
        assert run["status"] == "ok", run.get("error")
        assert run["placement"]["executor"] == "slurm"
        job_id = run["placement"]["slurm_job_id"]
        assert re.fullmatch(r"\d+", job_id), job_id  # the array's job id, as Slurm set SLURM_JOB_ID on the node
        array_ids.add(job_id)
    assert len(array_ids) == 2  # two tasks, each its own job id
    assert "Where the runs ran" in (out / "report.md").read_text()


def test_a_task_slurm_cancels_is_recorded_with_slurms_state_and_the_other_finishes(slurm, tmp_path):
    out = tmp_path / "out"
    # The array's second task trains the stalled test model (tests/step_cost), which runs until it is
    # cancelled: a quick run could end before the cancel reached it.
    env = {**slurm.env, EXTRA_MODELS: "tests.tiny_model,tests.step_cost"}
    command = [sys.executable, "-m", "compare", "--preset", "smoke", "--models", "tiny,stalled"]
    command += ["--frameworks", "torch", "--device", "cpu", "--skip-checks", "--out", str(out), "--executor", "slurm"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline, running = time.monotonic() + 120, []
    while time.monotonic() < deadline and not running:  # until the second task runs on the node
        listed = subprocess.run(["squeue", "-h", "-r", "-o", "%i %T"], env=env, capture_output=True, text=True)
        running = [line.split()[0] for line in listed.stdout.splitlines() if line.endswith("_1 RUNNING")]
        time.sleep(0.05)
    assert running, "the second array task never ran"
    subprocess.run(["scancel", running[0]], env=env, check=True)  # as an operator, or a preemption, would
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 1, output  # a run did not finish
    runs = {run["model"]: run for run in load_results(out)["runs"]}
    assert runs["tiny"]["status"] == "ok", runs["tiny"].get("error")
    assert runs["stalled"]["status"] == "failed" and "CANCELLED" in runs["stalled"]["error"]["reason"], runs["stalled"]
