"""The tiny test model in PyTorch: the image flattened, one Linear layer."""

from torch import nn


class TinyNet(nn.Module):
    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.head = nn.Linear(28 * 28, num_classes)

    def forward(self, images):
        return self.head(images.flatten(1))  # (B, 1, 28, 28) → (B, 784) → (B, 10)
