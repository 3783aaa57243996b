"""The keras-io "Simple MNIST convnet" as a plain PyTorch module.

Twin of `keras_convnet.py`: same class, arguments and attribute names, so that its weights
port by name. Input: channels-first images (B, 1, 28, 28). Output: logits (B, num_classes).
"""

import torch
import torch.nn.functional as F
from torch import nn


class ConvNet(nn.Module):
    """[Conv2d 3×3 → ReLU → MaxPool 2×2] with 32, then 64 filters → Flatten → Dropout → Linear.

    Args:
        num_classes: number of output logits.
        dropout_rate: dropout before the classifier, 0.5 as in the keras-io example.
    """

    def __init__(self, num_classes: int = 10, dropout_rate: float = 0.5):
        super().__init__()
        if not isinstance(num_classes, int) or num_classes <= 0:
            raise ValueError(f"`num_classes` must be a positive integer. Received: num_classes={num_classes!r}")
        if not 0 <= dropout_rate < 1:
            raise ValueError(f"`dropout_rate` must be a float in [0, 1). Received: dropout_rate={dropout_rate!r}")
        self.conv_1 = nn.Conv2d(1, 32, 3)  # padding=0: Keras' "valid"
        self.pool_1 = nn.MaxPool2d(2)
        self.conv_2 = nn.Conv2d(32, 64, 3)
        self.pool_2 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()  # (c, h, w) order: Keras' Flatten gives (h, w, c)
        self.dropout = nn.Dropout(dropout_rate)
        self.head = nn.Linear(64 * 5 * 5, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.pool_1(F.relu(self.conv_1(images)))  # (B, 1, 28, 28) → (B, 32, 26, 26) → (B, 32, 13, 13)
        x = self.pool_2(F.relu(self.conv_2(x)))  # (B, 64, 11, 11) → (B, 64, 5, 5)
        x = self.dropout(self.flatten(x))  # (B, 1600)
        return self.head(x)  # (B, num_classes)
