"""From training to serving: `deploy` on a copy of the shared smoke comparison (tests/conftest.py),
three frameworks' worth (torch, Keras on TensorFlow, and Keras' inference-only NumPy backend), and a
route the exporter refuses, recorded with the tool's words."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from compare.contract.deployment import PARITY_TOLERANCE, RouteStatus
from compare.contract.results import load_results
from compare.harness import cli
from compare.run.engines.routes import Route


@pytest.fixture(scope="module")
def deployed(smoke_folder, tmp_path_factory) -> tuple[Path, int, str]:
    folder = tmp_path_factory.mktemp("deploy") / "smoke"
    shutil.copytree(smoke_folder, folder, ignore=shutil.ignore_patterns(".lock*"))
    before = (folder / "runs" / "mlp--torch.weights.npz").read_bytes()
    code = cli.main(["deploy", str(folder), "--frameworks", "torch,keras-tensorflow,keras-numpy"])
    assert (folder / "runs" / "mlp--torch.weights.npz").read_bytes() == before  # only added to
    return folder, code, (folder / "report.md").read_text()


@pytest.mark.long("exports the MLP by six routes and serves each, in three children")
def test_every_route_of_torch_and_keras_serves_the_trainers_logits(deployed):
    folder, code, _ = deployed
    assert code == cli.EXIT_OK
    document = load_results(folder)
    assert document["schema_version"] == 8
    entries = {(e["framework"], e["route"]): e for e in document["deployment"]}
    expected = {
        ("torch", "torch.export"), ("torch", "onnx"), ("torch", "openvino"),
        ("keras-tensorflow", "onnx"), ("keras-tensorflow", "tf_saved_model"), ("keras-tensorflow", "openvino"),
        ("keras-numpy", "keras"),
    }  # fmt: skip
    assert set(entries) == expected
    for entry in entries.values():
        assert entry["status"] == RouteStatus.OK, entry["message"]
        # float32 everywhere: an exporter's reordering moves the logits by ~1e-6 (see PARITY_TOLERANCE)
        assert entry["parity_ok"] and entry["parity_max_abs"] <= PARITY_TOLERANCE
        assert entry["latency_ms_batch_1"] > 0 and entry["latency_ms_large_batch"] > entry["latency_ms_batch_1"]
    assert entries[("keras-numpy", "keras")]["weights_from"] == "torch"  # the reference run's weights
    onnx = entries[("torch", "onnx")]
    assert onnx["size_mb"] == pytest.approx(
        (folder / "deploy" / "mlp--torch" / "onnx" / "model.onnx").stat().st_size / 2**20
    )


def test_the_report_tells_the_way_to_serving_and_names_the_fastest_route(deployed):
    folder, _, report = deployed
    assert "## From training to serving" in report and "### mlp" in report
    assert "Fastest way to serve, among routes that keep parity: mlp: for one image," in report
    assert (folder / "plots" / "serving.png").is_file()


def test_a_route_the_exporter_refuses_is_a_row_with_its_message(tmp_path):
    import torch

    from compare.run.serving import serve_route

    def refuse(module, input_shape, path):
        raise RuntimeError("Dynamic control flow is not supported\n  (a long trace follows)")

    model = torch.nn.Linear(4, 2)
    images = np.zeros((3, 4), np.float32)
    route = Route("onnx", "onnxruntime", "model.onnx", refuse)
    entry = serve_route(route, model, images, np.zeros((3, 2), np.float32), tmp_path, model="m", framework="torch",
                        variant="as built", weights_from="torch")  # fmt: skip
    assert entry.status == RouteStatus.UNSUPPORTED and entry.parity_max_abs is None
    assert entry.message.startswith("RuntimeError: Dynamic control flow is not supported")
    assert "Traceback" not in entry.message


def test_an_inference_only_backend_cannot_train_and_says_where_it_serves(tmp_path, capsys):
    code = cli.main(["--frameworks", "keras-numpy", "--out", str(tmp_path / "out")])
    assert code == cli.EXIT_USAGE
    error = capsys.readouterr().err
    assert "keras-numpy cannot train" in error and "python -m compare deploy RESULTS_DIR" in error
    assert not (tmp_path / "out" / "results.json").exists()


def test_deploy_refuses_a_folder_without_results(tmp_path, capsys):
    assert cli.main(["deploy", str(tmp_path)]) == cli.EXIT_USAGE
    assert "holds no results.json" in capsys.readouterr().err
