"""Twins that disagree in what the checks look at: their constructors, and their outputs."""

import keras
import torch
from torch import nn

from compare import Twins


class KerasLinear(keras.Model):
    def __init__(self, num_classes: int = 10, **kwargs):
        super().__init__(**kwargs)
        self.flatten = keras.layers.Flatten()
        self.head = keras.layers.Dense(num_classes)

    def call(self, images, training=None):
        return self.head(self.flatten(images))


class TorchLinear(nn.Module):
    def __init__(self, num_classes: int = 10, hidden_units: int = 0):  # an argument Keras' twin lacks
        super().__init__()
        self.flatten = nn.Flatten()
        self.head = nn.Linear(784, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.flatten(images))


class TorchEleven(TorchLinear):
    def __init__(self, num_classes: int = 10):
        super().__init__(num_classes + 1)  # one logit too many


signatures = Twins(name="signatures", keras=KerasLinear, torch=TorchLinear)
shapes = Twins(name="shapes", keras=KerasLinear, torch=TorchEleven)
