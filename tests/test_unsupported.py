"""A precision the machine lacks is recorded as `unsupported` with the framework's reason,
never a traceback: torch's LSTM has no bfloat16 kernel on a CPU without AVX-512."""

import pytest

from compare.contract.results import load_results
from compare.harness import cli
from compare.run.runner_contract import Unsupported, unless_unsupported
from tests.cases import torch_bf16_lstm_error
from tests.command import smoke_cli


def fails(message: str):
    def work():
        raise RuntimeError(message)

    return work


def test_a_failure_only_at_the_reduced_precision_is_unsupported():
    with pytest.raises(Unsupported, match=r"bf16 is not supported here \(RuntimeError: no bf16 kernel\)"):
        unless_unsupported(fails("no bf16 kernel\nmore detail"), "bf16", lambda: None)


def test_a_failure_in_float32_too_is_raised_as_it_is():
    with pytest.raises(RuntimeError, match="broken model"):
        unless_unsupported(fails("broken model"), "bf16", fails("broken in float32 too"))
    with pytest.raises(RuntimeError, match="broken model"):  # at fp32 there is nothing to fall back to
        unless_unsupported(fails("broken model"), "fp32", lambda: None)
    assert unless_unsupported(lambda: 7, "bf16", fails("never called")) == 7


@pytest.mark.long("trains in bf16 in every family")
def test_bf16_trains_in_every_family_and_is_unsupported_only_where_the_kernel_is_missing(tmp_path):
    out = tmp_path / "out"
    models, frameworks = "transformer,lstm", "torch,keras-torch"
    result = smoke_cli(models, frameworks, "--precision", "bf16", "--skip-checks", "--out", str(out))
    assert "Traceback" not in result.stdout + result.stderr
    document = load_results(out)
    assert document["settings"]["precision"] == "bf16"
    runs = {(run["model"], run["framework"]): run for run in document["runs"]}
    setting = {
        framework: runs[("transformer", framework)]["settings"]["precision"] for framework in ("torch", "keras-torch")
    }
    assert "mixed_bfloat16" in setting["keras-torch"] and setting["torch"].startswith("bf16")
    # 8 steps from the same weights on the same batches: bf16 rounding, not a broken model.
    # Chance is 10%; both learn (measured 25-29%), so neither is stuck or diverged.
    assert all(runs[("transformer", f)]["final_test_accuracy"] > 0.15 for f in ("torch", "keras-torch"))
    assert runs[("lstm", "keras-torch")]["status"] == "ok"  # Keras' LSTM on torch is matmuls: bf16 everywhere
    error = torch_bf16_lstm_error()
    if error is None:  # an AVX-512 CPU (or a GPU): torch trains its LSTM in bf16 too
        assert result.returncode == cli.EXIT_OK and runs[("lstm", "torch")]["status"] == "ok"
        return
    # Named with --frameworks and not run: exit 1, as for a named framework that is not installed.
    assert result.returncode == cli.EXIT_RUN_FAILED, result.stderr[-2000:]
    lstm = runs[("lstm", "torch")]
    assert lstm["status"] == "unsupported" and error in lstm["error"]["reason"]
    report = (out / "report.md").read_text()
    assert "torch (unsupported)" in report and error in report
