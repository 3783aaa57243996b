"""A model is its twin files and its catalog entry, an engine its catalog entries and its adapter:
a test-only fifth model and a test-only engine adapter, registered from outside the project, go
through a smoke comparison and the parity checks with no other edit."""

import dataclasses
import json
from dataclasses import fields

import pytest

from compare.catalog.frameworks import EXTRA_ENGINES, KERAS, Framework, register_framework
from compare.catalog.registry import EXTRA_MODELS, MODELS, ModelSpec, register
from compare.contract.job import RunSettings
from compare.contract.results import SCHEMA_PATH, load_results
from compare.harness import arguments, resolve
from compare.harness import plan as planning
from compare.run.engines import engine
from tests.command import smoke_cli


@pytest.mark.long("trains a registered model and engine and runs the parity checks on them")
def test_a_registered_model_and_engine_train_and_pass_the_parity_checks(tmp_path, monkeypatch):
    monkeypatch.setenv(EXTRA_MODELS, "tests.tiny_model")  # the parent and every child see them
    monkeypatch.setenv(EXTRA_ENGINES, "tests.second_engine")
    out = tmp_path / "out"
    # The torch twin makes the shared weights; keras-torch-second is Keras on the test's own adapter.
    result = smoke_cli("tiny", "keras-torch,keras-torch-second", "--out", str(out))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    document = load_results(out)
    assert {run["framework"] for run in document["runs"]} == {"keras-torch", "keras-torch-second"}
    for run in document["runs"]:
        assert run["status"] == "ok" and run["model"] == "tiny", run.get("error")
        assert run["model_info"]["trainable_params"] == 7_850
        assert run["step0_max_abs_logit_diff"] <= 1e-4  # the shared weights, ported into Keras
    second = next(run for run in document["runs"] if run["framework"] == "keras-torch-second")
    assert second["settings"]["engine"] == "torch-second"  # its adapter, loaded in its child, did the work
    parity = document["checks"]["torch"]["parity"]["tiny"]
    assert parity["inference"]["passed"] and parity["training"]["passed"]


def test_a_name_taken_already_is_refused():
    with pytest.raises(ValueError, match="a model named 'mlp' is in the catalog already"):
        register(ModelSpec("mlp", "mlp", "MLP", {}, has_dropout=False, has_batch_norm=False, fit_steps=1))
    assert MODELS["mlp"].has_dropout  # the built-in is untouched


def test_a_framework_on_an_engine_the_catalog_lacks_is_refused():
    with pytest.raises(ValueError, match="runs on engine 'mxnet', which the catalog lacks"):
        register_framework(Framework("keras-mxnet", KERAS, "mxnet"))


def test_an_engine_without_an_adapter_is_named():
    with pytest.raises(
        ValueError, match=r"no engine adapter for 'mxnet' \(adapters: torch, jax, tensorflow, numpy, openvino\)"
    ):
        engine("mxnet")


def test_every_run_setting_is_recorded_resumed_and_documented(tmp_path):
    """RunSettings lists the settings once; the results record, --resume's check and the
    schema follow it, so a new setting cannot be recorded without being documented."""
    schema = json.loads(SCHEMA_PATH.read_text())["properties"]["settings"]["properties"]
    plan = resolve.make_plan(
        arguments.run_parser().parse_args(["--out", str(tmp_path), "--seed", "5", "--deterministic"])
    )
    record = planning.settings_record(plan)
    for setting in fields(RunSettings):
        assert setting.name in schema, f"results.schema.json does not describe settings.{setting.name}"
        assert record[setting.name] == getattr(plan.settings, setting.name)
        other = None if getattr(plan.settings, setting.name) is not None else "something else"
        changed = dataclasses.replace(plan, settings=dataclasses.replace(plan.settings, **{setting.name: other}))
        with pytest.raises(ValueError, match=f"different {setting.name}"):
            planning.resumable(changed, {"settings": record})
    assert plan.settings.seed == 5 and plan.settings.deterministic is True  # filled from the flags of those names
