"""Time to target, precision, torch.compile's modes and counts, keras-torch-jit, and the
GPU plan's script, each run end to end on this CPU with a tiny budget."""

import subprocess
import sys
from pathlib import Path

import pytest

from compare.catalog.registry import EXTRA_MODELS
from compare.contract.results import load_results
from compare.harness import arguments, cli, resolve
from compare.run.runner_contract import time_to_target
from compare.run.timing import CompileWatch, second_clock
from tests.command import run_cli

ROOT = Path(__file__).resolve().parents[1]


def test_time_to_target_is_the_first_epoch_that_reaches_it():
    history = [
        {"epoch": 1, "test_accuracy": 0.85, "elapsed_s": 3.0},
        {"epoch": 2, "test_accuracy": 0.91, "elapsed_s": 5.5},
        {"epoch": 3, "test_accuracy": 0.95, "elapsed_s": 8.0},
    ]
    assert time_to_target(history, 0.90) == {"target_accuracy": 0.90, "epochs_to_target": 2, "time_to_target_s": 5.5}
    assert time_to_target(history, 0.99)["time_to_target_s"] is None
    assert time_to_target(history, None)["epochs_to_target"] is None


def test_compile_watch_counts_only_training_after_the_first_step():
    frames = iter([1, 1, 3, 3])  # after step 1; evaluation starts; evaluation done (+2 in it); next evaluation
    watch = CompileWatch(lambda: next(frames))
    watch.first_step_done()
    watch.evaluation_starts()
    watch.evaluation_done()
    watch.evaluation_starts()
    assert watch.after_first_step == 0  # the two frames compiled during evaluation are not recompilations
    assert CompileWatch(None).after_first_step == 0


def test_the_second_clock_cancels_a_windows_fixed_cost():
    # A window costing 40 ms besides its steps, and 2.5 ms a step: the difference of two windows
    # gives the step alone. 0.5 s of extra steps at the first clock's 2.0 ms would be 250: capped at 200.
    calls = []
    clock = second_clock(lambda n: calls.append(n) or 0.040 + n * 0.0025, step_ms=2.0, available=1000)
    assert calls == [2, 202] and clock == {"step_time_ms_one_wait": pytest.approx(2.5), "one_wait_steps": 200}
    # Few batches to take steps on: the long window takes what there is.
    assert second_clock(lambda n: n * 0.01, step_ms=2.0, available=8)["one_wait_steps"] == 6
    unmeasured = {"step_time_ms_one_wait": None, "one_wait_steps": 0}
    assert second_clock(lambda n: 1 / 0, step_ms=None, available=8) == unmeasured  # no steady steps: no windows


@pytest.mark.long("the GPU plan's script trains the MLP until it reaches the sample's target")
def test_gpu_plan_tiny_trains_to_target_and_stops_there(tmp_path):
    """The GPU plan's script, shrunk for a CPU: the MLP to the sample's 90% target with --until-target."""
    out = tmp_path / "plan"
    done = subprocess.run(
        [sys.executable, "benchmarks/gpu_plan.py", "--tiny", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "expected about" in done.stdout  # the estimate, printed before it starts
    document = load_results(out)
    assert document["settings"]["until_target"] is True
    for run in document["runs"]:
        reached = run["to_target"]
        accuracies = [epoch["test_accuracy"] for epoch in run["history"]]
        # Stopped at the first epoch at or above the target: every earlier one was below it.
        assert reached["epochs_to_target"] == len(accuracies), run["framework"]
        assert accuracies[-1] >= reached["target_accuracy"] > max(accuracies[:-1], default=0.0)
        assert reached["time_to_target_s"] == run["history"][-1]["elapsed_s"]
    assert "## Time to target" in (out / "report.md").read_text()


def test_gpu_plan_repeats_fit_its_budget_and_multiply_its_estimate(tmp_path, monkeypatch, capsys):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import gpu_plan

    assert gpu_plan.repeats_within(540, 200) == 2 and gpu_plan.repeats_within(540, 600) == 1
    commands = []
    monkeypatch.setattr(gpu_plan.subprocess, "run", lambda command, cwd: commands.append(command) or Done())
    one_repeat_s, _ = gpu_plan.estimate_s(["mlp", "resnet_v2", "transformer", "lstm"], gpu_plan.FRAMEWORKS)
    assert gpu_plan.main(["--out", str(tmp_path), "--repeats", "3"]) == 0
    printed = capsys.readouterr().out
    assert "x 3 repeat(s)" in printed and f"expected about {one_repeat_s * 3 / 60:.1f} min" in printed
    assert commands[0][commands[0].index("--repeats") + 1] == "3"
    assert gpu_plan.main(["--out", str(tmp_path), "--budget-s", str(one_repeat_s * 2.5)]) == 0
    assert commands[1][commands[1].index("--repeats") + 1] == "2"  # as many as fit the budget


class Done:
    returncode = 0


def test_until_target_without_targets_exits_2(tmp_path, capsys):
    code = cli.main(["--preset", "smoke", "--until-target", "--out", str(tmp_path / "out")])
    assert code == cli.EXIT_USAGE
    assert "--until-target: --preset smoke has no mnist targets" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_tf32_and_precision_must_agree(tmp_path, capsys):
    code = cli.main(["--preset", "smoke", "--tf32", "on", "--precision", "bf16", "--out", str(tmp_path / "out")])
    assert code == cli.EXIT_USAGE
    assert "--tf32 on and --precision bf16 disagree" in capsys.readouterr().err


def smoke_comparison(out: Path, *arguments: str) -> dict:
    """A smoke comparison on the CPU without the checks; its results document."""
    result = run_cli("--preset", "smoke", "--skip-checks", "--device", "cpu", "--out", str(out), *arguments)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return load_results(out)


@pytest.mark.long("waits for torch.compile, Keras' route included (20-60 s per model on a CPU)")
def test_compiled_runs_record_what_torch_compile_did(tmp_path, monkeypatch):
    # The test-only one-layer model (tests/tiny_model): what is recorded does not depend on the model,
    # and Keras' trainer compiles a third faster around it than around the MLP (56 s against 80 s).
    monkeypatch.setenv(EXTRA_MODELS, "tests.tiny_model")
    document = smoke_comparison(
        tmp_path,
        "--models",
        "tiny",
        "--frameworks",
        "torch-compile,keras-torch-jit",
        "--compile-mode",
        "reduce-overhead",
    )
    compiled = {run["framework"]: run["settings"]["compilation"] for run in document["runs"]}
    assert compiled["torch-compile"]["mode"] == "reduce-overhead"
    assert compiled["keras-torch-jit"]["mode"] == "default"  # Keras' trainer picks its own
    assert all(record["frames_compiled"] >= 1 for record in compiled.values())
    # Plain torch: one batch shape throughout and an eager evaluation, so the steady state
    # compiles nothing. Keras' trainer on torch is measured, not held to it: on this CPU it
    # compiled 15 graphs with graph breaks, 10 frames of them again after the first step.
    assert compiled["torch-compile"]["recompiles_after_first_step"] == 0, compiled
    assert isinstance(compiled["keras-torch-jit"]["recompiles_after_first_step"], int)
    # The disk cache as each compiled run found it, and what it wrote there.
    for record in compiled.values():
        cache = record["disk_cache_at_start"]
        assert cache["state"] in ("empty", "cold", "warm") and cache["files_written"] >= 0
        assert (cache["state"] == "warm") == (cache["files"] > 0 and cache["files_written"] == 0)
    assert "## What torch.compile did" in (tmp_path / "report.md").read_text()


@pytest.mark.parametrize("mode", ["fp32", "tf32"])
def test_precision_is_recorded_in_settings(mode, tmp_path):
    args = arguments.run_parser().parse_args(["--precision", mode])
    assert resolve.precision(args) == mode
