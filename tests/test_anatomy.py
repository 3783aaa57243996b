"""Where the time goes: the batch-size sweep measures what it says. A test model that sleeps a known
5 ms per step must move the fixed cost a of t(B) = a + b·B by that much and leave the cost per sample b
alone; one that sleeps 50 µs per sample must move b, not a. Tolerances are set from the sleeps
themselves: `time.sleep` never returns early and on a busy 2-core machine overshoots by up to about a
millisecond per call (measured: 0.6 ms), which lands in a; the tiny model's own a and b vary by a
tenth of a millisecond and a microsecond between runs."""

import json

import numpy as np
import pandas as pd
import pytest

from compare.catalog.registry import EXTRA_MODELS
from compare.contract.results import load_results
from compare.harness import arguments
from compare.run.anatomy import fit_line
from tests.command import smoke_cli

SIZES = "8,64,256,512"


@pytest.fixture(scope="module")
def swept(tmp_path_factory, monkeypatch_module):
    monkeypatch_module.setenv(EXTRA_MODELS, "tests.tiny_model,tests.step_cost")
    out = tmp_path_factory.mktemp("swept") / "out"
    models = "tiny,fixed_cost,per_sample_cost"
    result = smoke_cli(models, "torch", "--batch-sizes", SIZES, "--skip-checks", "--out", str(out))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def anatomy(folder, model: str) -> dict:
    return next(run["anatomy"] for run in load_results(folder)["runs"] if run["model"] == model)


@pytest.mark.long("sweeps batch sizes on models that sleep a known time per step and per sample")
def test_a_fixed_delay_moves_the_fixed_cost_and_not_the_cost_per_sample(swept):
    plain, delayed = anatomy(swept, "tiny"), anatomy(swept, "fixed_cost")
    assert [p["batch_size"] for p in delayed["points"]] == [8, 64, 256, 512]
    assert 4.5 <= delayed["fixed_ms"] - plain["fixed_ms"] <= 6.5, (plain, delayed)  # 5 ms slept per step
    assert abs(delayed["per_sample_us"] - plain["per_sample_us"]) <= 3.0, (plain, delayed)


def test_a_delay_per_sample_moves_the_cost_per_sample_and_not_the_fixed_cost(swept):
    plain, delayed = anatomy(swept, "tiny"), anatomy(swept, "per_sample_cost")
    assert 45.0 <= delayed["per_sample_us"] - plain["per_sample_us"] <= 60.0, (plain, delayed)  # 50 µs slept
    assert abs(delayed["fixed_ms"] - plain["fixed_ms"]) <= 1.0, (plain, delayed)
    assert delayed["line_holds"]
    # Overhead-bound below the batch where a is a tenth of the step, 9·a/b: far sooner with 50 µs a sample.
    bound = 9 * delayed["fixed_ms"] / (delayed["per_sample_us"] / 1e3)
    assert delayed["overhead_bound_below_batch"] == pytest.approx(bound)
    assert delayed["overhead_bound_below_batch"] < plain["overhead_bound_below_batch"] / 10


def test_a_step_in_phases_puts_a_delay_in_forward_where_it_was_slept(swept):
    """The 5 ms sleep is in the forward pass: it lands in forward_and_loss, cancels out of the
    gradients (forward and backward, less the forward) and leaves the update alone; `other` is what
    the measured step holds beyond the three."""
    plain = anatomy(swept, "tiny")["step_phases_ms"]
    delayed = anatomy(swept, "fixed_cost")["step_phases_ms"]
    assert 4.5 <= delayed["forward_and_loss"] - plain["forward_and_loss"] <= 6.5, (plain, delayed)
    assert abs(delayed["gradients"] - plain["gradients"]) <= 1.0 and abs(delayed["update"] - plain["update"]) <= 1.0
    parts = delayed["forward_and_loss"] + delayed["gradients"] + delayed["update"] + delayed["other"]
    assert parts == pytest.approx(delayed["step"]) and delayed["batch_size"] == 64


def test_the_report_explains_the_sweep_and_the_tables_carry_it(swept):
    report = (swept / "report.md").read_text()
    assert "## Where the time goes: fixed cost per step, cost per sample" in report
    assert (swept / "plots" / "anatomy.png").is_file() and "![anatomy](plots/anatomy.png)" in report
    assert "### A step in phases" in report and (swept / "plots" / "phases.png").is_file()
    runs = pd.read_csv(swept / "runs.csv")
    assert {"fixed_ms", "per_sample_us"} <= set(runs.columns) and runs["fixed_ms"].notna().all()
    document = json.loads((swept / "results.json").read_text())
    assert document["settings"]["batch_sizes"] == [8, 64, 256, 512] and document["schema_version"] >= 7


def test_the_line_through_exact_points_gives_back_its_costs():
    line = fit_line([16, 64, 256, 1024], [4.6 + 0.018 * b for b in (16, 64, 256, 1024)])
    assert line["fixed_ms"] == pytest.approx(4.6) and line["per_sample_us"] == pytest.approx(18.0)
    assert line["line_holds"] and np.allclose(line["residuals_pct"], 0, atol=1e-9)
    assert line["overhead_bound_below_batch"] == pytest.approx(9 * 4.6 / 0.018)  # where a is 10% of a step


def test_a_curve_that_is_no_line_is_said_so():
    line = fit_line([16, 64, 256, 1024], [1.0, 1.0, 10.0, 10.0])  # a cache effect: a jump, not a slope
    assert not line["line_holds"] and max(abs(r) for r in line["residuals_pct"]) > 15


@pytest.mark.parametrize("text", ["64", "0,64", "a,b", "64,64"])
def test_batch_sizes_need_two_distinct_positive_sizes(text, capsys):
    with pytest.raises(SystemExit):
        arguments.run_parser().parse_args(["--batch-sizes", text])
    assert "expected two or more positive batch sizes such as 16,64,256,1024" in capsys.readouterr().err


def test_batch_sizes_alone_take_each_models_own_list():
    assert arguments.run_parser().parse_args(["--batch-sizes"]).batch_sizes == []
    assert arguments.run_parser().parse_args(["--batch-sizes", "256,16,64"]).batch_sizes == [16, 64, 256]
    assert arguments.run_parser().parse_args([]).batch_sizes is None
