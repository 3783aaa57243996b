"""Helpers shared by the torch twins: input checks and Keras-matching initializers."""

import torch
from torch import nn


def check_images(images: torch.Tensor, channels: int, size: int) -> None:
    """Raise a ValueError unless `images` is a float batch (B, channels, size, size).

    Keras checks its inputs against the model's `input_spec`; torch would fail
    later inside a matmul with a message about mat1 and mat2, so check up front.
    """
    expected = (channels, size, size)
    if images.ndim != 4 or tuple(images.shape[1:]) != expected or not images.is_floating_point():
        raise ValueError(
            f"Expected a float batch of channels-first images of shape "
            f"(batch, {channels}, {size}, {size}). Received: shape={tuple(images.shape)}, "
            f"dtype={images.dtype}. Convert with `images.float()` and, for NHWC "
            f"arrays, `images.permute(0, 3, 1, 2)`."
        )


@torch.no_grad()
def init_glorot_uniform(module: nn.Module) -> None:
    """Give every Linear/Conv2d Keras' defaults: glorot_uniform weight, zero bias.

    torch's own default is kaiming_uniform(a=sqrt(5)) with a uniform bias. Both
    frameworks compute the fans the same way (in/out channels × kernel area).
    """
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
