"""Data-parallel training: keras-jax-dp (keras.distribution.DataParallel over 2 host
devices) and torch-ddp (2 gloo processes on loopback, started by torchrun) must
end with the weights their single-device twins end with."""

import numpy as np
import pytest
import torch

from compare.catalog.frameworks import default_frameworks
from compare.contract.results import load_results
from compare.harness import cli, orchestrator
from compare.harness.children import child_environment
from compare.lessons.data_parallel import TOLERANCE, what_differs
from compare.run.torch_runner import epoch_batches
from tests.command import smoke_cli


@pytest.mark.long("trains on two JAX host devices and two gloo processes beside their single-device twins")
def test_data_parallel_runs_match_their_single_device_twins(tmp_path):
    result = smoke_cli(
        "mlp",
        "keras-jax,keras-jax-dp,torch,torch-ddp",
        "--dropout",
        "0",
        "--skip-checks",
        "--out",
        str(tmp_path),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    document = load_results(tmp_path)
    devices = {run["framework"]: (run["devices"], run["device"]["count"]) for run in document["runs"]}
    assert devices == {"keras-jax": (1, 1), "keras-jax-dp": (2, 2), "torch": (1, 1), "torch-ddp": (2, 2)}
    parity = {row["framework"]: row for row in document["data_parallel"]}
    assert set(parity) == {"keras-jax-dp", "torch-ddp"}
    for row in parity.values():
        # 8 Adam steps: measured 1.6e-4 (JAX) and 2.4e-4 (torch) of the largest update;
        # a wrong gradient average or other batches would be off by about the update itself.
        assert row["expected_to_match"] and row["within_tolerance"], row
        assert row["relative_to_update"] <= TOLERANCE
    markdown = (tmp_path / "report.md").read_text()
    assert "## Data parallel" in markdown and "a correctness check, not a speed claim" in markdown


def test_each_process_takes_its_share_of_exactly_the_single_device_batches():
    order = torch.from_numpy(np.random.default_rng(0).permutation(24))
    single = [rows.tolist() for rows in epoch_batches(order, 8, rank=0, world=1)]
    shares = [[rows.tolist() for rows in epoch_batches(order, 8, rank=r, world=2)] for r in range(2)]
    assert all(len(batch) == 4 for share in shares for batch in share)  # global batch 8, 4 per process
    together = [sorted(a + b) for a, b in zip(*shares)]
    assert together == [sorted(batch) for batch in single]
    # What a DistributedSampler over the epoch's order deals process r: positions r, r + 2, ...
    sampler = torch.utils.data.DistributedSampler(order.tolist(), num_replicas=2, rank=1, shuffle=False)
    assert sum(shares[1], []) == [order[i].item() for i in sampler]


def test_data_parallel_frameworks_run_by_default_only_with_several_gpus():
    assert "torch-ddp" not in default_frameworks(gpu_count=0)
    assert "keras-jax-dp" not in default_frameworks(gpu_count=1)
    assert {"keras-jax-dp", "torch-ddp"} <= set(default_frameworks(gpu_count=2))


def test_each_data_parallel_framework_is_started_its_own_way():
    env = child_environment("keras-jax-dp", "cpu", devices=4)
    assert "--xla_force_host_platform_device_count=4" in env["XLA_FLAGS"] and env["KERAS_BACKEND"] == "jax"
    command = orchestrator.worker_command("torch-ddp", 4)
    assert command[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node=4"]
    assert command[-2:] == ["-m", "compare.run.worker"]
    assert child_environment("torch-ddp", "cpu", devices=2)["GLOO_SOCKET_IFNAME"] == "lo"
    assert orchestrator.worker_command("torch", 1) == orchestrator.WORKER_COMMAND


@pytest.mark.parametrize(
    "model, framework, dropout, expected",
    [
        ("mlp", "torch-ddp", 0.0, []),
        ("mlp", "keras-jax-dp", None, ["dropout draws its masks per device"]),
        ("lstm", "keras-jax-dp", None, []),
        ("resnet_v2", "torch-ddp", None, ["DDP's BatchNorm", "BatchNorm's backward pass"]),
    ],
)
def test_what_may_differ_is_named(model, framework, dropout, expected):
    run = {"model": model, "framework": framework, "regularization": {"dropout_rate": dropout, "augment": False}}
    reasons = what_differs(run)
    assert len(reasons) == len(expected) and all(r.startswith(e) for r, e in zip(reasons, expected))


def test_uneven_batches_for_the_devices_exit_2(tmp_path, capsys):
    code = cli.main(
        [
            "--preset",
            "smoke",
            "--models",
            "mlp",
            "--frameworks",
            "torch-ddp",
            "--dp-devices",
            "3",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == cli.EXIT_USAGE
    assert "mlp (batch 64) is not a multiple of 3" in capsys.readouterr().err
