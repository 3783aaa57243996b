"""Repeated runs: seeds and turns per repeat, aggregates, MLPerf's rule, paired bootstrap
intervals and ties, checked against values worked out by hand. The runs are made up by
tests/fake_worker.py (FAKE_RESULTS), so nothing trains; one test trains for real."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from compare.contract.results import load_results
from compare.harness import cli, orchestrator
from compare.report import statistics
from tests.command import smoke_cli
from tests.fake_worker import cli_command

FRAMEWORKS = ["torch", "keras-jax", "keras-tensorflow"]
# [step ms, time to target s (None: missed), final test accuracy] per repeat (seed 0, 1, ...).
TORCH = [[10, 30, 0.95], [11, 31, 0.96], [12, 32, 0.97], [13, 33, 0.98], [14, 60, 0.99]]
# The same step times as torch, in another order: the same distribution, paired differently.
KERAS_JAX = [[12, 32, 0.97], [14, 31, 0.97], [10, None, 0.97], [13, 33, 0.97], [11, 30, 0.97]]
# Exactly twice torch's step time and time to target in every repeat: clearly apart.
KERAS_TENSORFLOW = [[2 * step, 2 * target, accuracy] for step, target, accuracy in TORCH]
MADE_UP = {"mlp--torch": TORCH, "mlp--keras-jax": KERAS_JAX, "mlp--keras-tensorflow": KERAS_TENSORFLOW}


def test_mlperf_mean_drops_the_fastest_and_slowest_from_five_runs():
    assert statistics.mlperf_mean([9, 10, 11, 12, 30]) == 11.0  # (10 + 11 + 12) / 3
    assert statistics.mlperf_mean([9, 10, 11, 30]) == 15.0  # fewer than 5: the plain mean


def test_coefficient_of_variation_is_the_sample_spread_over_the_mean():
    assert statistics.coefficient_of_variation([10, 12, 14]) == pytest.approx(2 / 12)  # sample sd 2, mean 12
    assert statistics.coefficient_of_variation([10]) is None


def compare_made_up(tmp_path, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    """The CLI over made-up runs of the MLP: no training, no shared weights, no checks."""
    monkeypatch.setattr(orchestrator, "WORKER_COMMAND", [sys.executable, "-m", "tests.fake_worker"])
    monkeypatch.setattr(orchestrator, "make_initial_weights", lambda *_: ({}, "each framework's own (made up)"))
    monkeypatch.setenv("FAKE_RESULTS", json.dumps(MADE_UP))
    base = ["--models", "mlp", "--frameworks", ",".join(FRAMEWORKS), "--device", "cpu", "--skip-checks"]
    return cli.main([*base, "--out", str(tmp_path), *args])


@pytest.fixture(scope="module")
def five_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("five")
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert compare_made_up(folder, monkeypatch, "--repeats", "5") == cli.EXIT_OK
    return folder


@pytest.fixture
def five_repeats(five_folder) -> dict:
    return load_results(five_folder)


def test_each_repeat_has_its_seed_and_rotates_the_frameworks_turns(five_repeats):
    runs = five_repeats["runs"]
    assert [(run["repeat"], run["seed"]) for run in runs] == [(r, r) for r in range(5) for _ in FRAMEWORKS]
    for repeat in range(5):
        turn = [run["framework"] for run in runs if run["repeat"] == repeat]
        assert turn == FRAMEWORKS[repeat % 3 :] + FRAMEWORKS[: repeat % 3]  # rotated by one per repeat
        assert [run["position"] for run in runs if run["repeat"] == repeat] == [0, 1, 2]


def cell(document: dict, framework: str) -> dict:
    return next(entry for entry in document["aggregates"] if entry["framework"] == framework)


def test_aggregates_match_the_values_worked_out_by_hand(five_repeats):
    torch = cell(five_repeats, "torch")
    assert torch["step_time_ms"]["median"] == 12 and (torch["step_time_ms"]["min"], torch["step_time_ms"]["max"]) == (
        10,
        14,
    )
    low, high = torch["step_time_ms"]["interval_95"]
    assert 10 <= low <= 12 <= high <= 14  # a median's bootstrap interval lies within the runs
    assert torch["step_time_ms"]["cv"] == pytest.approx(math.sqrt(2.5) / 12)  # sample sd of 10..14 is √2.5
    assert torch["time_to_target_s"]["mlperf_mean"] == 32  # 30 and 60 dropped: (31 + 32 + 33) / 3
    assert torch["epochs_to_target"] == [3] * 5 and torch["time_to_target_s"]["runs_missed"] == 0
    assert torch["final_test_accuracy"]["mean"] == pytest.approx(0.97)
    assert torch["final_test_accuracy"]["std"] == pytest.approx(math.sqrt(0.001 / 4))
    jax = cell(five_repeats, "keras-jax")
    assert jax["time_to_target_s"]["runs_missed"] == 1 and jax["epochs_to_target"][2] is None
    assert jax["time_to_target_s"]["mlperf_mean"] == 31.5  # 4 runs reached it: the plain mean of 32, 31, 33, 30


def test_identical_distributions_tie_and_separated_ones_rank(five_repeats):
    jax = cell(five_repeats, "keras-jax")["vs_torch"]["step_time_ms"]
    assert jax["ratio"] == 1.0 and jax["pairs"] == 5  # medians 12 and 12
    assert jax["interval_95"][0] < 1.0 < jax["interval_95"][1] and jax["tied"] is True
    tensorflow = cell(five_repeats, "keras-tensorflow")["vs_torch"]
    # Every pair is exactly 2×, so every resample's ratio is 2: the interval is [2, 2].
    assert tensorflow["step_time_ms"] == {"ratio": 2.0, "interval_95": [2.0, 2.0], "pairs": 5, "tied": False}
    assert tensorflow["time_to_target_s"]["ratio"] == 2.0 and tensorflow["time_to_target_s"]["tied"] is False
    # Time to target pairs only the repeats both reached: 4 pairs, no trimming, 31.5 / 38.5.
    assert cell(five_repeats, "keras-jax")["vs_torch"]["time_to_target_s"]["ratio"] == pytest.approx(31.5 / 38.5)


def test_the_report_names_the_tie_and_the_ranking(five_folder):
    markdown = (five_folder / "report.md").read_text()
    verdict = markdown.split("## Verdict", 1)[1].split("\n## ", 1)[0]
    assert "5 runs per framework and model" in verdict
    row = next(line for line in verdict.splitlines() if line.startswith("| mlp |"))
    assert "torch, keras-jax (cannot be told apart)" in row or "keras-jax, torch (cannot be told apart)" in row
    assert "3 keras-tensorflow (24 ms)" in row
    assert "## Repeated runs: medians, intervals and ratios" in markdown
    assert "2.00× [2.00, 2.00]" in markdown and "1.00× [" in markdown and "] tied" in markdown
    assert "spread.png" in markdown


def test_one_run_says_it_ranks_single_runs_and_how_to_repeat(tmp_path, monkeypatch):
    assert compare_made_up(tmp_path, monkeypatch) == cli.EXIT_OK
    document = load_results(tmp_path)
    assert [run["repeat"] for run in document["runs"]] == [0, 0, 0]
    assert cell(document, "keras-tensorflow")["vs_torch"]["step_time_ms"]["interval_95"] is None
    markdown = (tmp_path / "report.md").read_text()
    assert "these rankings rank single runs" in markdown and "--repeats 5" in markdown
    assert "## Repeated runs" not in markdown and "tied" not in markdown.split("## Environment")[0]


def test_resume_keeps_finished_repeats_and_runs_the_rest(tmp_path, monkeypatch):
    assert compare_made_up(tmp_path, monkeypatch, "--repeats", "2") == cli.EXIT_OK
    first = load_results(tmp_path)["runs"]
    assert compare_made_up(tmp_path, monkeypatch, "--repeats", "3", "--resume") == cli.EXIT_OK
    runs = load_results(tmp_path)["runs"]
    kept = [run for run in runs if run["repeat"] < 2]
    assert kept == first  # the finished repeats, wall times and all, not run again
    assert sorted(run["framework"] for run in runs if run["repeat"] == 2) == sorted(FRAMEWORKS)


def loss_curves(document: dict, repeat: int) -> dict[str, list[float]]:
    """Each framework's train losses and final test loss, for the MLP in one repeat."""
    return {
        run["framework"]: [e["train_loss"] for e in run["history"]] + [run["history"][-1]["test_loss"]]
        for run in document["runs"]
        if run["model"] == "mlp" and run.get("repeat", 0) == repeat
    }


@pytest.mark.long("two repeats of real runs in both families")
def test_repeated_real_runs_end_to_end_and_the_same_seed_gives_the_same_curve(tmp_path, smoke_folder):
    out = tmp_path / "out"
    # Two repeats, the fewest with an interval and a second seed; the made-up runs above have five.
    arguments = ("--repeats", "2", "--device", "cpu", "--skip-checks", "--out", str(out))
    result = smoke_cli("mlp", "torch,keras-jax", *arguments)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    document = load_results(out)
    assert len(document["runs"]) == 4 and all(run["status"] == "ok" for run in document["runs"])
    assert sorted({run["seed"] for run in document["runs"]}) == [0, 1]
    # Each repeat starts from its own seed's weights.
    weights = sorted(path.name for path in (out / "runs").glob("initial_weights*"))
    assert weights == ["initial_weights", "initial_weights-repeat-1"]
    for entry in document["aggregates"]:
        assert entry["runs"] == 2 and entry["step_time_ms"]["interval_95"] is not None
        assert entry["framework"] == "torch" or entry["vs_torch"]["step_time_ms"]["interval_95"] is not None
    markdown = (out / "report.md").read_text()
    assert "## Repeated runs: medians, intervals and ratios" in markdown and "step vs torch" in markdown
    assert "2 runs per framework and model" in markdown

    # The shared smoke comparison ran the same MLP from seed 0 in another comparison, beside other
    # frameworks and the checks: repeat 0 again. The CPU kernels used here reduce in a fixed order
    # at a fixed thread count, so the same seed gives the same numbers to float32 rounding.
    again = loss_curves(load_results(smoke_folder), 0)
    first, second = loss_curves(document, 0), loss_curves(document, 1)
    for framework in first:
        assert again[framework] == pytest.approx(first[framework], rel=1e-6), framework
        assert again[framework] != pytest.approx(second[framework], rel=1e-6), framework  # the seed matters


def test_seed_shifts_every_repeats_seed(tmp_path, monkeypatch):
    assert compare_made_up(tmp_path, monkeypatch, "--repeats", "2", "--seed", "3") == cli.EXIT_OK
    assert sorted({(run["repeat"], run["seed"]) for run in load_results(tmp_path)["runs"]}) == [(0, 3), (1, 4)]


ROOT = Path(__file__).resolve().parents[1]


def test_without_scipy_the_comparison_finishes_and_report_dir_adds_the_intervals(tmp_path, five_repeats):
    """As on a GPU machine without SciPy: the runs and their medians are stored, the intervals
    said to be missing; `report DIR` where SciPy is computes and stores the same statistics as a
    comparison that had it (five_repeats: the same made-up runs)."""
    hidden = tmp_path / "hidden" / "scipy"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text('raise ImportError("SciPy hidden by the test")\n')
    env = {**os.environ, "PYTHONPATH": f"{hidden.parent}{os.pathsep}{ROOT}", "FAKE_RESULTS": json.dumps(MADE_UP)}
    out = tmp_path / "out"
    arguments = ["--models", "mlp", "--frameworks", ",".join(FRAMEWORKS), "--device", "cpu", "--skip-checks"]
    done = subprocess.run(
        [*cli_command(), *arguments, "--repeats", "5", "--out", str(out)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == cli.EXIT_OK, done.stdout[-3000:] + done.stderr[-3000:]
    without = load_results(out)
    assert without["intervals"]["computed"] is False and "SciPy hidden by the test" in without["intervals"]["why_not"]
    assert [cell["step_time_ms"]["median"] for cell in without["aggregates"]] == [
        cell["step_time_ms"]["median"] for cell in five_repeats["aggregates"]
    ]
    assert all(cell["step_time_ms"]["interval_95"] is None for cell in without["aggregates"])
    assert "Intervals and ties are not computed yet" in (out / "report.md").read_text()

    assert cli.main(["report", str(out)]) == cli.EXIT_OK
    filled = load_results(out)
    assert filled["intervals"]["computed"] is True
    assert filled["aggregates"] == five_repeats["aggregates"] and filled["rankings"] == five_repeats["rankings"]
    assert "Intervals and ties are not computed yet" not in (out / "report.md").read_text()


def test_single_runs_need_no_scipy(monkeypatch, five_repeats):
    """One run per cell has no interval to compute: its statistics are complete without SciPy."""
    first = [run for run in five_repeats["runs"] if run["repeat"] == 0]
    document = {key: value for key, value in five_repeats.items() if key not in ("aggregates", "rankings", "intervals")}
    monkeypatch.setitem(sys.modules, "scipy", None)  # any import of SciPy now raises ImportError
    monkeypatch.setitem(sys.modules, "scipy.stats", None)
    single = {**document, "runs": first}
    assert statistics.complete(single)
    assert single["intervals"]["computed"] is True and single["intervals"]["why_not"] is None
    repeated = dict(document)
    statistics.complete(repeated)
    assert repeated["intervals"]["computed"] is False and "SciPy cannot be imported" in repeated["intervals"]["why_not"]


def test_the_tidy_tables_read_back_in_pandas_with_units_in_their_names(five_folder, five_repeats):
    import pandas

    runs = pandas.read_csv(five_folder / "runs.csv")
    assert len(runs) == 15 and set(runs["framework"]) == set(FRAMEWORKS)
    torch_runs = runs[runs["framework"] == "torch"].sort_values("repeat")
    assert list(torch_runs["step_time_ms_median"]) == [step for step, _, _ in TORCH]  # as made up
    assert list(torch_runs["final_test_accuracy_pct"]) == pytest.approx([100 * acc for _, _, acc in TORCH])
    tensorflow = runs[runs["framework"] == "keras-tensorflow"]
    assert list(tensorflow["step_time_vs_torch"]) == pytest.approx([2.0] * 5)  # twice torch's, repeat by repeat
    aggregates = pandas.read_csv(five_folder / "aggregates.csv").set_index("framework")
    stored = {cell["framework"]: cell for cell in five_repeats["aggregates"]}
    for framework, cell in stored.items():
        assert aggregates.loc[framework, "step_time_ms_median"] == pytest.approx(cell["step_time_ms"]["median"])
        assert aggregates.loc[framework, "runs"] == 5
    assert aggregates.loc["keras-tensorflow", "step_time_vs_torch"] == pytest.approx(2.0)
    assert not aggregates.loc["keras-tensorflow", "step_time_vs_torch_tied"]
    assert bool(aggregates.loc["keras-jax", "step_time_vs_torch_tied"])  # the same distribution: a tie
    units = {"step_time_ms_median", "time_to_first_step_s", "final_test_accuracy_pct", "peak_rss_mb", "samples_per_s"}
    assert units <= set(runs.columns)  # units as name suffixes, as results.json names them
