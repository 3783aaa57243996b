"""Twins written the way people write models, each a case check-twins must answer right:
functional pooling before a flatten, nested keras.Sequential, a layer of the user's whose own
weight has another name, and two classic traps (stride-2 "same" padding, Keras' BatchNorm
defaults) whose failed parity must be explained."""

import keras
import torch
import torch.nn.functional as F
from torch import nn

from compare import Twins


class KerasPooled(keras.Model):
    """Conv2D → BatchNormalization → MaxPooling2D → Flatten → Dense, other names than torch's."""

    NORM = {"momentum": 0.9, "epsilon": 1e-5}  # torch's conventions

    def __init__(self, num_classes: int = 10, **kwargs):
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv2D(8, 3, padding="same")
        self.bn = keras.layers.BatchNormalization(**self.NORM)
        self.pool = keras.layers.MaxPooling2D(2)
        self.flatten = keras.layers.Flatten()
        self.dense = keras.layers.Dense(num_classes)

    def call(self, images, training=None):
        x = self.pool(keras.ops.relu(self.bn(self.conv(images), training=training)))  # (B, 14, 14, 8)
        return self.dense(self.flatten(x))


class TorchPooled(nn.Module):
    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv_a = nn.Conv2d(1, 8, 3, padding=1)
        self.norm = nn.BatchNorm2d(8)
        self.head = nn.Linear(8 * 14 * 14, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(torch.relu(self.norm(self.conv_a(x))), 2)  # pooled in forward, not by a module
        return self.head(x.flatten(1))


class KerasNested(keras.Model):
    def __init__(self, num_classes: int = 10, **kwargs):
        super().__init__(**kwargs)
        self.features = keras.Sequential(
            [
                keras.layers.Conv2D(4, 3, activation="relu"),
                keras.layers.MaxPooling2D(2),
                keras.layers.Conv2D(8, 3, activation="relu"),
                keras.layers.MaxPooling2D(2),
            ]
        )
        self.classifier = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(num_classes)])

    def call(self, images, training=None):
        return self.classifier(self.features(images))


class TorchNested(nn.Module):
    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 8, 3), nn.ReLU(), nn.MaxPool2d(2)
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(8 * 5 * 5, num_classes))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(images))


class RowGain(keras.layers.Layer):
    def build(self, input_shape):
        self.g = self.add_weight(shape=(1, input_shape[-1]), initializer="ones", name="g")

    def call(self, x):
        return x * self.g


class KerasGained(keras.Model):
    def __init__(self, num_classes: int = 10, **kwargs):
        super().__init__(**kwargs)
        self.flatten = keras.layers.Flatten()
        self.scale = RowGain()
        self.head = keras.layers.Dense(num_classes)

    def call(self, images, training=None):
        return self.head(self.scale(self.flatten(images)))


class Gain(nn.Module):
    def __init__(self, n: int):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(n))

    def forward(self, x):
        return x * self.gain


class TorchGained(nn.Module):
    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.flatten = nn.Flatten()
        self.scale = Gain(784)
        self.head = nn.Linear(784, num_classes)

    def forward(self, images):
        return self.head(self.scale(self.flatten(images)))


class KerasStrided(keras.Model):
    """The classic trap: 'same' padding at stride 2, against torch's padding=1."""

    def __init__(self, num_classes: int = 10, **kwargs):
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv2D(4, 3, strides=2, padding="same")
        self.flatten = keras.layers.Flatten()
        self.head = keras.layers.Dense(num_classes)

    def call(self, images, training=None):
        return self.head(self.flatten(keras.ops.relu(self.conv(images))))


class TorchStrided(nn.Module):
    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, stride=2, padding=1)
        self.flatten = nn.Flatten()
        self.head = nn.Linear(4 * 14 * 14, num_classes)

    def forward(self, images):
        return self.head(self.flatten(torch.relu(self.conv(images))))


class KerasDefaultNorm(KerasPooled):
    NORM = {}  # Keras' own momentum (0.99) and epsilon (1e-3)


pooled = Twins(name="pooled", keras=KerasPooled, torch=TorchPooled)
nested = Twins(name="nested", keras=KerasNested, torch=TorchNested)
gained = Twins(name="gained", keras=KerasGained, torch=TorchGained)
strided = Twins(name="strided", keras=KerasStrided, torch=TorchStrided)
default_norm = Twins(name="default_norm", keras=KerasDefaultNorm, torch=TorchPooled)
