"""The four MNIST models as Keras 3 models (any backend, set by KERAS_BACKEND).

Twins of `torch_models`: same class names, constructor arguments and
sub-layer attribute names. Images are channels-last: (B, 28, 28, 1).
"""

from keras_models.lstm import LSTMClassifier
from keras_models.mlp import MLP
from keras_models.resnet_v2 import PreActBlock, ResNetV2
from keras_models.transformer import EncoderBlock, PatchEmbedding, TransformerClassifier

__all__ = [
    "MLP",
    "PreActBlock",
    "ResNetV2",
    "PatchEmbedding",
    "EncoderBlock",
    "TransformerClassifier",
    "LSTMClassifier",
]
