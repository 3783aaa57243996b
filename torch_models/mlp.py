"""MNIST multilayer perceptron, plain PyTorch.

Twin of `keras_models/mlp.py`: same class, arguments and attribute names.
Input: channels-first images (B, 1, 28, 28). Output: logits (B, num_classes).
"""

import torch
import torch.nn.functional as F
from torch import nn

import twin_arguments
from torch_models.initializers import init_glorot_uniform
from torch_models.inputs import check_images


class MLP(nn.Module):
    """flatten → [Linear(units) → ReLU → Dropout] per hidden layer → Linear(num_classes).

    Args:
        num_classes: number of output logits.
        image_size: height and width of the square, one-channel input images.
        hidden_units: width of each hidden layer.
        dropout_rate: dropout after each hidden ReLU.
    """

    def __init__(
        self,
        num_classes: int = 10,
        image_size: int = 28,
        hidden_units: tuple[int, ...] = (256, 128),
        dropout_rate: float = 0.2,
    ):
        super().__init__()
        self.num_classes = twin_arguments.positive_int("num_classes", num_classes)
        self.image_size = twin_arguments.positive_int("image_size", image_size)
        self.hidden_units = twin_arguments.positive_ints("hidden_units", hidden_units)
        self.dropout_rate = twin_arguments.rate("dropout_rate", dropout_rate)

        widths = (image_size * image_size, *self.hidden_units)
        self.hidden = nn.ModuleList(nn.Linear(n_in, n_out) for n_in, n_out in zip(widths[:-1], widths[1:]))
        self.dropout = nn.Dropout(dropout_rate)
        self.head = nn.Linear(widths[-1], num_classes)
        # Keras' Dense default, replacing torch's kaiming_uniform(a=sqrt(5)).
        init_glorot_uniform(self)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_images(images, channels=1, size=self.image_size)
        x = images.flatten(1)  # (B, H*W)
        for linear in self.hidden:
            x = self.dropout(F.relu(linear(x)))  # (B, units)
        return self.head(x)  # (B, num_classes)
