"""The regularization options on the torch side and through the harness: each one
changes what it should. (The Keras side: tests/keras_backend/test_regularization.py.)"""

import numpy as np
import pytest
import torch

from compare.contract.results import load_results
from compare.harness import cli
from compare.run.torch_recipes import l2_penalty
from compare.run.torch_runner import EarlyStopping
from tests.cases import EARLY_STOPPING_CASES
from tests.command import smoke_cli
from torch_models import MLP, RandomShiftRotate


def test_l2_penalty_is_lambda_times_the_sum_of_squared_kernels():
    model = MLP().requires_grad_(False)
    kernels = [model.hidden[0].weight, model.hidden[1].weight, model.head.weight]  # not the biases
    expected = 1e-3 * sum(float((w.double() ** 2).sum()) for w in kernels)
    assert float(l2_penalty(model, 1e-3)) == pytest.approx(expected, rel=1e-5)  # float32 sum of 235k terms


@pytest.mark.parametrize("losses, patience, stopped, best", EARLY_STOPPING_CASES)
def test_early_stopping_stops_and_restores_the_best_weights(losses, patience, stopped, best):
    model = torch.nn.Linear(1, 1, bias=False)
    stopper = EarlyStopping(patience)
    for epoch, loss in enumerate(losses, start=1):
        with torch.no_grad():
            model.weight.fill_(epoch)  # the weights say which epoch made them
        if stopper.should_stop(epoch, loss, model):
            break
    stopper.restore_best(model)
    assert (stopper.stopped_epoch, stopper.best_epoch) == (stopped, best)
    assert model.weight.item() == best


def test_augmentation_moves_pixels_in_training_only(sample_batch):
    images = torch.from_numpy(sample_batch[0][:32].astype(np.float32) / 255).unsqueeze(1)
    augment = RandomShiftRotate()
    moved = augment.train()(images)
    assert moved.shape == images.shape
    assert (moved - images).abs().amax(dim=(1, 2, 3)).min() > 0.1  # every image changed
    # Digits sit inside a 20×20 box of the 28×28 frame: ±10° and ±2.8 px keep the
    # strokes in frame, so the ink is kept (bilinear resampling spreads, not loses, it).
    assert moved.sum() / images.sum() == pytest.approx(1.0, abs=0.02)
    assert torch.equal(augment.eval()(images), images)  # the identity at inference


def test_torch_adam_weight_decay_is_a_coupled_gradient_term():
    """torch.optim.Adam(weight_decay=wd) adds wd·w to the gradient before Adam's
    normalization: the first step is lr·g'/(|g'| + ε) with g' = g + wd·w."""
    lr, wd, eps = 1e-3, 0.1, 1e-8
    gradient = torch.tensor([0.0, 1e-3, -2.0])
    weight = torch.ones(3, requires_grad=True)
    optimizer = torch.optim.Adam([weight], lr=lr, eps=eps, weight_decay=wd)
    weight.grad = gradient.clone()
    optimizer.step()
    coupled = gradient + wd * 1.0
    expected = 1.0 - lr * coupled / (coupled.abs() + eps)
    assert torch.allclose(weight.detach(), expected, rtol=0, atol=1e-7)  # float32 rounding of ~1


@pytest.mark.parametrize(
    "args, message",
    [
        (["--preset", "regularization", "--l2", "0.1"], "--l2 cannot be combined with --preset regularization"),
        (["--preset", "regularization", "--models", "lstm"], "trains only mlp"),
        (["--models", "resnet_v2", "--dropout", "0.3"], "resnet_v2 has no dropout layer"),
    ],
)
def test_regularization_flags_that_cannot_apply_exit_2(args, message, tmp_path, capsys):
    assert cli.main([*args, "--out", str(tmp_path / "out")]) == cli.EXIT_USAGE
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out" / "results.json").exists()


@pytest.mark.long("trains with every regularization option in both families")
def test_every_option_through_the_harness(tmp_path):
    """L2, weight decay, dropout, early stopping and augmentation together, in Keras
    and torch: each is recorded, and early stopping's outcome is consistent."""
    result = smoke_cli(
        "mlp",
        # Keras on its torch backend: the same Keras runner and options as on JAX, without XLA compiling
        # the augmenting step (11 s of the JAX run's 24 s; 9 s for the whole keras-torch run).
        "keras-torch,torch",
        "--epochs",
        "8",
        # A high, constant rate: the validation loss turns up within a few epochs, so
        # early stopping acts (at 0.01 with the cosine decay it fell for all 8 epochs).
        "--learning-rate",
        "0.05",
        "--lr-schedule",
        "constant",
        "--l2",
        "1e-4",
        "--weight-decay",
        "1e-4",
        "--dropout",
        "0.3",
        "--early-stopping",
        "1",
        "--augment",
        "--skip-checks",
        "--out",
        str(tmp_path),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    document = load_results(tmp_path)
    assert document["settings"]["validation_fraction"] == 0.1
    for run in document["runs"]:
        assert run["status"] == "ok", run.get("error")
        assert run["regularization"] == {
            "name": run["variant"],
            "l2": 1e-4,
            "weight_decay": 1e-4,
            "dropout_rate": 0.3,
            "early_stopping_patience": 1,
            "augment": True,
        }
        # 10% of the 512 smoke images held out; the rest cut to whole batches of 64.
        assert run["data_used"] == {"train_samples": 448, "validation_samples": 51, "test_samples": 256}
        history, stopping = run["history"], run["early_stopping"]
        val_losses = [epoch["val_loss"] for epoch in history]
        best = 1 + int(np.argmin(val_losses))  # the first lowest, as "better" means strictly lower
        assert stopping["best_epoch"] == best
        if stopping["stopped_epoch"] is not None:  # patience 1: stopped at the first worse epoch
            assert stopping["stopped_epoch"] == len(history) and val_losses[-1] >= min(val_losses[:-1])
        else:
            assert len(history) == 8
        # The restored weights are the best epoch's: the same test accuracy, exactly.
        assert run["final_test_accuracy"] == history[best - 1]["test_accuracy"]
    assert any(run["early_stopping"]["stopped_epoch"] for run in document["runs"]), "no run stopped early"
