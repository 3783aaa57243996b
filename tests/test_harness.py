"""The comparison harness end to end: CLI, results schema, report, failure isolation."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from compare.catalog.frameworks import ENGINES, FRAMEWORKS, KERAS, EngineFacts, Framework, default_frameworks
from compare.catalog.registry import MODELS
from compare.contract.results import ResultsError, load_results
from compare.harness import checks, cli, orchestrator
from tests.command import run_cli

ALL_FRAMEWORKS = default_frameworks(gpu_count=0)  # the five single-device ones


@pytest.mark.long("reads the shared smoke comparison, which the first test to ask for it runs")
def test_smoke_run_covers_every_framework(smoke_folder):
    document = load_results(smoke_folder)  # validates against the JSON schema
    assert document["finished"] is True
    assert (smoke_folder / "runs.csv").is_file() and (smoke_folder / "aggregates.csv").is_file()  # tidy tables
    assert [run["framework"] for run in document["runs"]] == ALL_FRAMEWORKS
    for run in document["runs"]:
        assert run["status"] == "ok", run.get("error")
        assert run["model_info"]["output_shape"] == [run["timing"]["inference_large_batch_size"], 10]
        assert run["model_info"]["trainable_params"] == MODELS["mlp"].params["keras"][0]
        assert run["data_used"] == {"train_samples": 512, "validation_samples": 0, "test_samples": 256}
        assert run["variant"] == "as built" and run["early_stopping"] is None
        assert len(run["history"]) == 1 and 0 <= run["history"][0]["test_accuracy"] <= 1
        timing = run["timing"]
        # 8 steps: the first is compilation, the next 3 warm-up, 4 are steady.
        assert timing["steady_steps"] == 4
        assert timing["step_time_ms_median"] > 0 and timing["time_to_first_step_s"] > 0
        # The second clock: windows of 2 and 8 steps (all 8 batches there are), differenced.
        assert timing["one_wait_steps"] == 6 and timing["step_time_ms_one_wait"] > 0
        assert run["memory"]["peak_rss_mb"] > 0
        assert run["initial_weights"] == "shared"
        assert run["step0_max_abs_logit_diff"] <= 1e-4  # the same starting function everywhere
    # Each run computed on the engine its catalog entry names.
    engines = {run["framework"]: run["settings"]["engine"] for run in document["runs"]}
    assert engines == {name: FRAMEWORKS[name].engine for name in ALL_FRAMEWORKS}
    jit = {run["framework"]: run["settings"]["jit_compile"] for run in document["runs"]}
    assert jit["keras-jax"] is True and jit["keras-torch"] is False and jit["torch-compile"] is True
    # The run's checks ran on one backend (torch, the quickest to start) and all passed.
    assert list(document["checks"]) == ["torch"]
    assert list(document["checks"]["torch"]["parity"]) == ["mlp"]  # the models it trains; `check` does all
    assert all(
        p["inference"]["passed"] and p["training"]["passed"] for p in document["checks"]["torch"]["parity"].values()
    )


def test_progress_is_printed_per_epoch_outside_a_terminal_and_kept_out_of_results(smoke_folder):
    printed = (smoke_folder.parent / "smoke.stdout").read_text()
    for number, framework in enumerate(ALL_FRAMEWORKS, start=1):
        assert f"[{number}/{len(ALL_FRAMEWORKS)}] mlp on {framework} ..." in printed
    # One plain line per epoch from each worker, through the progress pipe: no bars in a log.
    epoch_lines = re.findall(
        r"epoch 1/1, step 8/8, loss [0-9.]+, acc [0-9.]+%, test acc [0-9.]+% \| run: \S+ left"
        r" \| comparison: \S+ left",
        printed,
    )
    assert len(epoch_lines) == len(ALL_FRAMEWORKS)
    assert "\r" not in printed and "|█" not in printed
    assert "progress" not in (smoke_folder / "results.json").read_text()


def test_regularization_differences_measure_the_documented_effects(smoke_folder):
    differences = load_results(smoke_folder)["checks"]["torch"]["differences"]
    l2 = differences["l2_penalty_vs_sgd_weight_decay"]["measured"]
    assert l2["keras_penalty"] == pytest.approx(l2["torch_penalty"], rel=1e-5)  # the same weights penalized
    assert l2["keras_penalty_step_over_torch_weight_decay_step"] == pytest.approx(2.0, rel=1e-3)  # d(λw²)/dw = 2λw
    # weight_decay=2λ reproduces the step to float32 rounding; weight_decay=λ misses half the decay.
    assert l2["max_abs_weight_diff_vs_weight_decay_2l2"] < 0.01 * l2["largest_penalty_share_of_update"]
    assert l2["max_abs_weight_diff_vs_weight_decay_l2"] > 0.4 * l2["largest_penalty_share_of_update"]
    adam = differences["adam_weight_decay"]["measured"]
    # A weight with zero gradient: decoupled decay moves it lr·wd·w = 1e-5; coupled, Adam normalizes wd·w to lr.
    assert adam["keras_adam"][0] == pytest.approx(1e-5, rel=1e-2) == adam["torch_adamw"][0]
    assert adam["torch_adam"][0] == pytest.approx(1e-3, rel=1e-3)
    dropout = differences["dropout_scaling"]["measured"]
    assert dropout["keras_kept_values"] == dropout["torch_kept_values"] == [2.0]  # 1/(1 − 0.5): inverted dropout
    assert dropout["keras_inference_max_abs_change"] == dropout["torch_inference_max_abs_change"] == 0
    mode = differences["training_mode"]["measured"]
    assert mode["torch_module_starts_in_training_mode"] is True
    assert (
        mode["keras_call_without_training_max_abs_diff_between_calls"]
        == 0
        < mode["torch_default_max_abs_diff_between_calls"]
    )
    assert mode["keras_bn_trainable_false_moving_mean_change_training_true"] == 0
    assert mode["torch_bn_requires_grad_false_running_mean_change"] > 0
    augment = differences["augmentation_distribution"]["measured"]
    # 1,000 draws estimate a standard deviation to about ±2.2% (1/√(2n)); allow 10%.
    for name in ("keras", "torch"):
        for axis in ("x", "y"):
            assert augment[f"{name}_shift_{axis}_std_px"] == pytest.approx(augment["uniform_shift_std_px"], rel=0.1)
        assert augment[f"{name}_angle_std_deg"] == pytest.approx(augment["uniform_angle_std_deg"], rel=0.1)
        assert augment[f"{name}_mass_ratio_mean"] == pytest.approx(1.0, abs=0.01)


def test_report_files_are_complete_and_self_contained(smoke_folder):
    markdown = (smoke_folder / "report.md").read_text()
    for heading in (
        "## Environment",
        "## Summary",
        "## Parameters",
        "## Per epoch",
        "## How data reaches the device",
        "## Parity",
        "## Framework differences",
        "### LSTM: one bias versus two",
        "## Plots",
    ):
        assert heading in markdown
    assert "NOT the full MNIST" in markdown  # the data source is always named
    page = (smoke_folder / "report.html").read_text()
    assert 'src="data:image/png;base64,' in page
    assert 'src="http' not in page and "<link" not in page  # nothing fetched from elsewhere
    assert sorted(p.name for p in (smoke_folder / "plots").iterdir()) == [
        "accuracy.png",
        "accuracy_vs_time.png",
        "parameters.png",
        "step_time.png",
        "throughput.png",
    ]


def test_report_command_rerenders_from_json_alone(smoke_folder, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "results.json").write_text((smoke_folder / "results.json").read_text())
    result = run_cli("report", str(copy))
    assert result.returncode == 0, result.stderr
    assert (copy / "report.md").read_text() == (smoke_folder / "report.md").read_text()
    assert (copy / "report.html").is_file()


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.update(schema_version=99), "schema_version 99"),
        (lambda d: d["runs"][0].pop("budget"), "runs/0"),
        (lambda d: d["runs"][0].update(status="exploded"), "runs/0/status"),
    ],
    ids=["other-version", "missing-field", "bad-status"],
)
def test_report_refuses_a_results_file_it_cannot_trust(smoke_folder, tmp_path, mutate, message, capsys):
    document = json.loads((smoke_folder / "results.json").read_text())
    mutate(document)
    (tmp_path / "results.json").write_text(json.dumps(document))
    assert cli.main(["report", str(tmp_path)]) == cli.EXIT_USAGE
    assert message in capsys.readouterr().err
    with pytest.raises(ResultsError):
        load_results(tmp_path)


def test_report_on_missing_or_malformed_file(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path / "nowhere")]) == cli.EXIT_USAGE
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "results.json").write_text("{not json")
    assert cli.main(["report", str(tmp_path)]) == cli.EXIT_USAGE
    assert "is not valid JSON" in capsys.readouterr().err


def test_failures_are_isolated_and_reported(tmp_path, monkeypatch, capsys):
    # The MLP on torch finishes (a made-up result: no training, so the hung run's timeout can be
    # short); the others raise, hang, or are killed; keras-tensorflow pretends its backend is not installed.
    monkeypatch.setattr(orchestrator, "WORKER_COMMAND", [sys.executable, "-m", "tests.fake_worker"])
    monkeypatch.setenv("FAKE_RESULTS", json.dumps({"mlp--torch": [[10.0, None, 0.9]]}))
    monkeypatch.setenv("FAULTS", "resnet_v2--torch=raise,transformer--torch=hang,lstm--torch=kill")
    uninstalled_engine(monkeypatch)
    monkeypatch.setitem(
        FRAMEWORKS,
        "keras-tensorflow",
        Framework("keras-tensorflow", KERAS, "no_such_backend_module", install_hint="install it"),
    )
    out = tmp_path / "out"
    code = cli.main(
        [
            "--preset",
            "smoke",
            "--frameworks",
            "torch,keras-tensorflow",
            "--device",
            "cpu",
            "--timeout",
            "8",
            "--skip-checks",
            "--out",
            str(out),
        ]
    )
    assert code == cli.EXIT_RUN_FAILED

    document = load_results(out)
    status = {(r["model"], r["framework"]): r for r in document["runs"]}
    assert status[("mlp", "torch")]["status"] == "ok"
    raised = status[("resnet_v2", "torch")]
    assert raised["status"] == "failed" and "injected failure inside the run" in raised["error"]["reason"]
    assert "RuntimeError" in raised["error"]["traceback"]
    hung = status[("transformer", "torch")]
    assert hung["status"] == "timeout" and "8 s timeout" in hung["error"]["reason"]
    killed = status[("lstm", "torch")]
    assert killed["status"] == "failed" and "SIGKILL" in killed["error"]["reason"]
    for model in MODELS:
        missing = status[(model, "keras-tensorflow")]
        assert missing["status"] == "not_installed" and "no_such_backend_module" in missing["error"]["reason"]

    report = (out / "report.md").read_text()
    assert "| mlp | torch | ok |" in report
    for reason in ("injected failure", "timeout", "SIGKILL", "not installed"):
        assert reason in report
    assert "7 run(s) did not finish" in capsys.readouterr().err  # 3 faults + 4 not installed


def uninstalled_engine(monkeypatch) -> None:
    """An engine in the catalog whose module is not installed here."""
    missing = "no_such_backend_module"
    monkeypatch.setitem(ENGINES, missing, EngineFacts(missing, missing, missing, (missing,), f"{missing}:Adapter"))


def test_missing_framework_is_not_a_failure_unless_named(tmp_path, monkeypatch):
    monkeypatch.setattr(orchestrator, "WORKER_COMMAND", [sys.executable, "-m", "tests.fake_worker"])
    monkeypatch.setenv("FAULTS", "")
    uninstalled_engine(monkeypatch)
    for name in ("keras-tensorflow", "keras-jax", "keras-torch", "torch-compile"):
        monkeypatch.setitem(FRAMEWORKS, name, Framework(name, KERAS, "no_such_backend_module"))
    code = cli.main(
        ["--preset", "smoke", "--models", "mlp", "--device", "cpu", "--skip-checks", "--out", str(tmp_path)]
    )
    assert code == cli.EXIT_OK
    statuses = [run["status"] for run in load_results(tmp_path)["runs"]]
    assert statuses == ["not_installed"] * 3 + ["ok", "not_installed"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--models", "mlp,vgg"], "unknown model 'vgg'; choose from: mlp, resnet_v2, transformer, lstm"),
        (["--frameworks", "tensorflow"], "unknown framework 'tensorflow'; choose from: keras-tensorflow"),
        (["--preset", "huge"], "invalid choice: 'huge'"),
        (["--device", "tpu"], "invalid choice: 'tpu'"),
        (["--epochs", "0"], "expected a positive whole number, got '0'"),
        (["--batch-size", "1.5"], "expected a positive whole number, got '1.5'"),
        (["--timeout", "-3"], "expected a positive whole number, got '-3'"),
        (["--l2", "-1"], "expected a number >= 0, got '-1'"),
        (["--dropout", "1"], "expected a rate in [0, 1), got '1'"),
        (["--early-stopping", "0"], "expected a positive whole number, got '0'"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(args)
    assert exit_info.value.code == cli.EXIT_USAGE
    assert message in capsys.readouterr().err


def test_bad_data_path_and_unwritable_folder_exit_2(tmp_path, capsys):
    assert cli.main(["--mnist-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")]) == cli.EXIT_USAGE
    assert "does not exist" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert cli.main(["--out", str(blocker / "sub")]) == cli.EXIT_USAGE
    assert "cannot write the results folder" in capsys.readouterr().err


def test_env_command_lists_frameworks(capsys):
    assert cli.main(["env"]) == cli.EXIT_OK
    record = json.loads(capsys.readouterr().out)
    assert set(record["frameworks"]) == set(FRAMEWORKS)
    assert record["frameworks"]["torch"] == "usable"
    assert record["packages"]["torch"]


def test_check_command_prints_and_writes_the_parity_and_differences(smoke_folder, tmp_path, monkeypatch, capsys):
    # The checks themselves ran in the smoke comparison (a child process on the torch
    # backend); here the command around them: backends, printing, files.
    measured = load_results(smoke_folder)["checks"]
    asked = []

    def run_lesson(module, arguments, backends, *rest):
        asked.append((module, backends))
        return measured

    monkeypatch.setattr(checks, "run_lesson", run_lesson)
    assert cli.main(["check", "--backends", "torch", "--out", str(tmp_path)]) == cli.EXIT_OK
    assert asked == [(checks.CHECKS, ["torch"])]
    printed = capsys.readouterr().out
    assert "## Parity: the twins compute the same function" in printed
    assert "### Stride-2" in printed and "Measured on torch:" in printed
    document = load_results(tmp_path)
    assert document["runs"] == [] and document["settings"]["preset"] == "check"
    assert set(document["checks"]["torch"]["differences"]) >= {"adam_epsilon", "gelu_approximation"}
    assert "## Framework differences" in (tmp_path / "report.md").read_text()


def test_check_command_rejects_unknown_backends(capsys):
    with pytest.raises(SystemExit):
        cli.main(["check", "--backends", "mxnet"])
    assert "unknown backend 'mxnet'; choose from: tensorflow, jax, torch" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command", [[], ["run"], ["report"], ["check"], ["env"]], ids=lambda c: c[0] if c else "default"
)
def test_every_command_prints_its_help(command, capsys):
    # argparse expands % in help texts: a bare "10%" once broke `--help` with a TypeError.
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*command, "--help"])
    assert exit_info.value.code == cli.EXIT_OK
    printed = capsys.readouterr().out
    assert printed.startswith("usage: python -m compare") and "--help" in printed


def test_the_installed_command_prints_its_help():
    # Both front doors: `python -m compare` and the console script pip installed beside Python.
    script = Path(sys.executable).parent / "keras-torch-compare"
    for command in ([sys.executable, "-m", "compare", "--help"], [str(script), "--help"]):
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "--dataset {mnist,fashion-mnist}" in result.stdout and "10% of the training images" in result.stdout


EXAMPLE = Path(__file__).parent.parent / "docs" / "example"


def test_the_committed_example_report_matches_the_current_schema():
    document = load_results(EXAMPLE)  # validates against this version's schema, or fails
    assert document["finished"] and document["settings"]["preset"] == "default"
    # 4 models × 5 frameworks × 5 repeats, each with its sweep
    # (`python -m compare --repeats 5 --batch-sizes --out docs/example`).
    assert all(run["status"] == "ok" for run in document["runs"]) and len(document["runs"]) == 100
    assert document["settings"]["repeats"] == 5 and len(document["aggregates"]) == 20
    assert all(run["anatomy"]["fixed_ms"] is not None for run in document["runs"])
    assert all(cell["anatomy"]["fixed_ms"]["interval_95"] is not None for cell in document["aggregates"])
    markdown = (EXAMPLE / "report.md").read_text()
    for plot in re.findall(r"\]\((plots/[^)]+\.png)\)", markdown):
        assert (EXAMPLE / plot).is_file(), plot  # every plot the page shows is committed
    assert (EXAMPLE / "report.html").is_file()


def test_the_cpu_capability_is_asked_of_torch_once_per_interpreter_torch_and_cpu(tmp_path, monkeypatch):
    from compare.harness import environment

    monkeypatch.setattr(environment, "CAPABILITY_CACHE", tmp_path / "cache" / "cpu.json")
    probes = []
    real_run = environment.subprocess.run

    def counting_run(command, **kwargs):
        probes.append(command)
        return real_run(command, **kwargs)

    monkeypatch.setattr(environment.subprocess, "run", counting_run)
    answers = []
    for override in ("", "", "default"):  # the third: torch told to use its baseline kernels
        monkeypatch.setenv("ATEN_CPU_CAPABILITY", override)
        environment.cpu_capability.cache_clear()
        answers.append(environment.cpu_capability())
    assert len(probes) == 2  # the second answer came from the cache
    assert answers[0] == answers[1] and answers[0] and answers[2] == "DEFAULT"
    assert len(json.loads((tmp_path / "cache" / "cpu.json").read_text())) == 2
