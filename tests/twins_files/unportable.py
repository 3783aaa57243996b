"""Twins whose Keras side has a layer type with no port (SeparableConv2D)."""

import keras
import torch
from torch import nn

from compare import Twins


class KerasSeparable(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.features = keras.layers.SeparableConv2D(4, 3)
        self.flatten = keras.layers.Flatten()
        self.head = keras.layers.Dense(10)

    def call(self, images, training=None):
        return self.head(self.flatten(self.features(images)))


class TorchSeparable(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 1, 3, groups=1, bias=False), nn.Conv2d(1, 4, 1))
        self.flatten = nn.Flatten()
        self.head = nn.Linear(4 * 26 * 26, 10)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.flatten(self.features(images)))


twins = Twins(name="separable", keras=KerasSeparable, torch=TorchSeparable)
