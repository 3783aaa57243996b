"""LSTM classifier reading an MNIST image row by row, plain PyTorch.

Twin of `keras_models/lstm.py`: same class, arguments and attribute names.
Input: channels-first images (B, 1, 28, 28). Output: logits (B, num_classes).

torch's nn.LSTM (cuDNN on a GPU) keeps two bias vectors, bias_ih and bias_hh,
that are only ever added together: 4×units more parameters than Keras' single
bias for the same function. Gate order is the same in both: i, f, g/c, o.
"""

import torch
from torch import nn

import twin_arguments
from torch_models.inputs import check_images


class LSTMClassifier(nn.Module):
    """28 rows as 28 time steps of 28 features → LSTM → last hidden state → Linear.

    Args:
        num_classes: number of output logits.
        image_size: height and width of the square, one-channel input images.
        units: size of the LSTM's hidden state.
    """

    def __init__(self, num_classes: int = 10, image_size: int = 28, units: int = 128):
        super().__init__()
        self.num_classes = twin_arguments.positive_int("num_classes", num_classes)
        self.image_size = twin_arguments.positive_int("image_size", image_size)
        self.units = twin_arguments.positive_int("units", units)

        self.lstm = nn.LSTM(image_size, units, batch_first=True)
        self.head = nn.Linear(units, num_classes)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Keras' LSTM/Dense defaults instead of torch's uniform(±1/sqrt(units))."""
        nn.init.xavier_uniform_(self.lstm.weight_ih_l0)  # glorot_uniform kernel
        nn.init.orthogonal_(self.lstm.weight_hh_l0)  # orthogonal recurrent kernel
        nn.init.zeros_(self.lstm.bias_ih_l0)
        nn.init.zeros_(self.lstm.bias_hh_l0)
        # unit_forget_bias: the forget gate (second of i, f, g, o) starts at 1,
        # put in bias_ih only so that the sum of the two biases equals Keras' one.
        self.lstm.bias_ih_l0[self.units : 2 * self.units] = 1.0
        nn.init.xavier_uniform_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_images(images, channels=1, size=self.image_size)
        rows = images.reshape(-1, self.image_size, self.image_size)  # (B, T=H, W)
        _, (h, _) = self.lstm(rows)  # h: (num_layers=1, B, units)
        return self.head(h[-1])  # (B, num_classes)
