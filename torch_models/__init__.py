"""The four MNIST models as plain PyTorch modules, and the training-time
augmentation module.

Twins of `keras_models`: same class names, constructor arguments and
sub-layer attribute names. Images are channels-first: (B, 1, 28, 28).
"""

from torch_models.augment import RandomShiftRotate
from torch_models.lstm import LSTMClassifier
from torch_models.mlp import MLP
from torch_models.resnet_v2 import PreActBlock, ResNetV2
from torch_models.transformer import EncoderBlock, PatchEmbedding, TransformerClassifier

__all__ = [
    "MLP",
    "PreActBlock",
    "ResNetV2",
    "PatchEmbedding",
    "EncoderBlock",
    "TransformerClassifier",
    "LSTMClassifier",
    "RandomShiftRotate",
]
