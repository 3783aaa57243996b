"""Where a torch model flattens a feature map into a Linear, found from what `forward` really
does: after a module or a function, by nn.Flatten, `x.view(B, -1)`, `torch.flatten(x, 1)` or
`x.flatten(1)`. The (C, H, W) found decides how the Keras twin's Dense rows are permuted."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from compare.catalog.registry import MODELS
from compare.porting.port_torch import flattened_inputs


class PooledInForward(nn.Module):
    """conv → BatchNorm → ReLU → F.max_pool2d → flatten → Linear, the pooling a function."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.norm = nn.BatchNorm2d(8)
        self.head = nn.Linear(8 * 14 * 14, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(torch.relu(self.norm(self.conv(x))), 2)  # (B, 8, 14, 14)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


class Viewed(PooledInForward):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        return self.head(x.view(x.shape[0], -1))


class TorchFlattened(PooledInForward):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.features(x), 1))


class FlattenModule(PooledInForward):
    def __init__(self):
        super().__init__()
        self.flatten, self.drop = nn.Flatten(), nn.Dropout(0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.flatten(self.features(x))))  # Dropout after the flatten: same shape


@pytest.mark.parametrize("model", [PooledInForward, Viewed, TorchFlattened, FlattenModule], ids=lambda m: m.__name__)
def test_a_flattened_map_is_found_however_it_is_flattened(model):
    assert flattened_inputs(model(), torch.zeros(2, 1, 28, 28)) == {"head": (8, 14, 14)}


@pytest.mark.parametrize("name", MODELS)
def test_the_built_in_twins_flatten_no_map_of_several_channels(name):
    """The MLP flattens one channel (the same order in both layouts), ResNetV2 pools it away, the
    transformer and the LSTM read patches and rows: no row permutation anywhere."""
    spec = MODELS[name]
    assert flattened_inputs(spec.torch_class()(), torch.zeros(2, 1, 28, 28)) == {}
