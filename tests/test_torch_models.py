"""The PyTorch twins: shapes, parameter counts, training, argument and input checks."""

import numpy as np
import pytest
import torch

import torch_models
from compare.catalog.registry import MODELS
from compare.porting.params import torch_param_counts
from tests.cases import INVALID_ARGS


def to_nchw(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images.astype("float32") / 255.0).unsqueeze(1)  # (B, 1, 28, 28)


@pytest.mark.parametrize("name", MODELS)
def test_output_shape_and_dtype(name):
    model = MODELS[name].torch_class()().eval()
    logits = model(torch.rand(3, 1, 28, 28))
    assert logits.shape == (3, 10)
    assert logits.dtype == torch.float32


@pytest.mark.parametrize("name", MODELS)
def test_parameter_counts(name):
    model = MODELS[name].torch_class()()
    assert torch_param_counts(model) == MODELS[name].params["torch"]


def test_lstm_keeps_two_biases():
    lstm = torch_models.LSTMClassifier().lstm
    assert lstm.bias_ih_l0.shape == lstm.bias_hh_l0.shape == (4 * 128,)
    # unit_forget_bias: the SUM of the two biases is 1 on the forget gate, 0 elsewhere.
    summed = (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach()
    assert torch.equal(summed[128:256], torch.ones(128))
    assert torch.count_nonzero(summed) == 128


@pytest.mark.parametrize("name", MODELS)
def test_a_few_steps_lower_the_loss(name, sample_batch):
    torch.manual_seed(0)
    images, labels = sample_batch
    x, y = to_nchw(images), torch.from_numpy(labels.astype("int64"))
    model = MODELS[name].torch_class()().train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(MODELS[name].fit_steps):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    # Loose on purpose (dropout makes single steps noisy): the last loss must be
    # under 70% of the first; a model that does not learn stays near 100%.
    assert losses[-1] < 0.7 * losses[0], losses


@pytest.mark.parametrize("name, kwargs, argument, value", INVALID_ARGS)
def test_invalid_arguments_name_argument_and_value(name, kwargs, argument, value):
    with pytest.raises(ValueError, match=rf"`{argument}`.*Received: .*{value}") as error:
        MODELS[name].torch_class()(**kwargs)
    assert argument in str(error.value)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize(
    "bad_input",
    [torch.zeros(2, 28, 28, 1), torch.zeros(2, 28, 28), torch.zeros(2, 1, 28, 28, dtype=torch.uint8)],
    ids=["nhwc", "no-channel", "uint8"],
)
def test_wrong_input_names_expected_and_received(name, bad_input):
    model = MODELS[name].torch_class()()
    with pytest.raises(ValueError, match=r"\(batch, 1, 28, 28\).*Received: shape=") as error:
        model(bad_input)
    assert str(tuple(bad_input.shape)) in str(error.value)


def test_the_torch_encoder_block_is_torchs_own_transformer_encoder_layer():
    """torch ships the pre-LN encoder block this project writes out (Keras core does not;
    KerasHub does): with the twin's weights copied in, the outputs are identical."""
    torch.manual_seed(0)
    ours = torch_models.EncoderBlock(d_model=64, num_heads=4, ff_dim=128, dropout_rate=0.0).eval()
    theirs = torch.nn.TransformerEncoderLayer(
        64, 4, 128, dropout=0.0, activation="gelu", batch_first=True, norm_first=True, layer_norm_eps=1e-5
    ).eval()
    names = {"self_attn": "attn", "linear1": "ff_1", "linear2": "ff_2", "norm1": "ln_1", "norm2": "ln_2"}
    copied = {
        key: ours.state_dict()[names[key.split(".")[0]] + key[len(key.split(".")[0]) :]] for key in theirs.state_dict()
    }
    theirs.load_state_dict(copied)
    tokens = torch.randn(8, 16, 64)
    with torch.no_grad():
        # The same function: only float32 summation order may differ (torch's eval-mode
        # fast path is one fused kernel), ~1e-7 of outputs of order 1.
        assert (theirs(tokens) - ours(tokens)).abs().max().item() <= 1e-6
        theirs.train(), ours.train()  # the plain path too (dropout is 0)
        assert (theirs(tokens) - ours(tokens)).abs().max().item() <= 1e-6
