"""The four MNIST models as Keras 3 models (any backend, set by KERAS_BACKEND),
and the training-time augmentation layer.

Twins of `torch_models`: same class names, constructor arguments and
sub-layer attribute names. Images are channels-last: (B, 28, 28, 1).
"""

import os

# Keras reads KERAS_BACKEND once, at import, and its own error for a typo
# ("Unable to import backend : foo") does not say what would work.
KERAS_BACKENDS = ("tensorflow", "jax", "torch", "numpy", "openvino")
if os.environ.get("KERAS_BACKEND", "tensorflow") not in KERAS_BACKENDS:
    raise ValueError(
        f"KERAS_BACKEND={os.environ['KERAS_BACKEND']!r} is not a Keras backend. Set it to one of "
        f"tensorflow, jax or torch before Python starts, e.g. `KERAS_BACKEND=jax python ...` "
        f"(numpy and openvino exist but cannot train)."
    )

from keras_models.augment import RandomShiftRotate  # noqa: E402
from keras_models.lstm import LSTMClassifier  # noqa: E402
from keras_models.mlp import MLP  # noqa: E402
from keras_models.resnet_v2 import PreActBlock, ResNetV2  # noqa: E402
from keras_models.transformer import EncoderBlock, PatchEmbedding, TransformerClassifier  # noqa: E402

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
