"""The tiny test model in PyTorch: the image flattened, one Linear layer."""

from torch import nn


class TinyNet(nn.Module):
    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.flatten = nn.Flatten()
        self.head = nn.Linear(28 * 28, num_classes)

    def forward(self, x):
        return self.head(self.flatten(x))  # (B, 1, 28, 28) → (B, 784) → (B, 10)
