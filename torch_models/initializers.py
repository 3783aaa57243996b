"""Keras' default initializers for the torch twins, so that default-built twins start alike."""

import torch
from torch import nn


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
