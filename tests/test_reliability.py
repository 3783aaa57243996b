"""Interruption and --resume, divergence, reproducibility, and more bad input."""

import os
import shutil
import signal
import subprocess
import sys

import pytest

from compare.contract.results import load_results
from compare.harness import cli
from compare.harness.folder_lock import HOLDER_NAME
from tests import smoke_comparison
from tests.command import run_cli, smoke_cli
from tests.fake_worker import MLP_AND_LSTM_ARGUMENTS, resume, start_with_the_lstm_hung


def test_sigterm_keeps_finished_runs_and_resume_completes_the_rest(tmp_path):
    # The harness is what is interrupted and resumed: the runs are made up, the second hangs until SIGTERM.
    args = [*MLP_AND_LSTM_ARGUMENTS, "--out", str(tmp_path)]
    process = start_with_the_lstm_hung(tmp_path)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == cli.EXIT_INTERRUPTED, output

    assert not (tmp_path / HOLDER_NAME).exists()  # the lock was released on the way out
    partial = load_results(tmp_path)  # still valid JSON of the current schema
    assert partial["finished"] is False
    assert [(r["model"], r["status"]) for r in partial["runs"]] == [("mlp", "ok")]
    assert "interrupted: partial results" in (tmp_path / "report.md").read_text()

    refused = run_cli(*args)  # the folder holds results: never silently overwritten
    assert refused.returncode == cli.EXIT_USAGE and "--resume" in refused.stderr

    resumed = resume(tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "kept from the earlier run (--resume)" in resumed.stdout
    final = load_results(tmp_path)
    assert final["finished"] is True
    assert [(r["model"], r["status"]) for r in final["runs"]] == [("mlp", "ok"), ("lstm", "ok")]
    assert final["runs"][0] == partial["runs"][0]  # kept as it was, not run again


def test_resume_refuses_other_settings(tmp_path, smoke_folder):
    folder = tmp_path / "smoke"  # a copy: the shared comparison is left as it is
    shutil.copytree(smoke_folder, folder, ignore=shutil.ignore_patterns(".lock*"))
    other_seed = run_cli(*smoke_comparison.arguments(folder), "--resume", "--seed", "7")
    assert other_seed.returncode == cli.EXIT_USAGE and "different seed" in other_seed.stderr
    assert load_results(folder) == load_results(smoke_folder)  # refused before anything was touched


def test_a_run_whose_loss_explodes_is_recorded_as_diverged(tmp_path):
    # Adam moves every weight by ~lr per step: at lr 1e12 the logits overflow float32 at once.
    result = smoke_cli(
        "mlp",
        "torch,keras-jax",
        "--learning-rate",
        "1e12",
        "--skip-checks",
        "--out",
        str(tmp_path),
    )
    assert result.returncode == cli.EXIT_RUN_FAILED
    for run in load_results(tmp_path)["runs"]:
        assert run["status"] == "diverged", run.get("error")
        assert 1 <= run["diverged_at_step"] <= 8
    assert "loss became NaN or infinite at step" in (tmp_path / "report.md").read_text()


def test_an_empty_data_folder_is_refused(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert cli.main(["--mnist-dir", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == cli.EXIT_USAGE
    assert "lacks train-images-idx3-ubyte" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "-1e-3", "nan", "inf", "fast"])
def test_bad_learning_rate(value, capsys):
    with pytest.raises(SystemExit):
        cli.main([f"--learning-rate={value}"])  # "=": argparse reads "-1e-3" as a flag otherwise
    assert "expected a positive number" in capsys.readouterr().err


def test_unknown_keras_backend_is_named_with_the_valid_ones():
    result = subprocess.run(
        [sys.executable, "-c", "import keras_models"],
        capture_output=True,
        text=True,
        env={**os.environ, "KERAS_BACKEND": "tensorflw"},
    )
    assert result.returncode != 0
    assert "KERAS_BACKEND='tensorflw' is not a Keras backend" in result.stderr
    assert "tensorflow, jax or torch" in result.stderr
