"""torch spellings that the runner and the lessons share: which parameters are
kernels, and the L2 penalty over them.
"""

from __future__ import annotations

import torch


def is_kernel(name: str, parameter: torch.nn.Parameter) -> bool:
    """Weight matrices and conv kernels (Keras' "kernels"): not biases, not
    normalization scales (1-D weights), not the position embedding."""
    return "weight" in name.rsplit(".", 1)[-1] and parameter.ndim >= 2


def l2_penalty(model: torch.nn.Module, l2: float) -> torch.Tensor:
    """l2·Σw² over every kernel: the term Keras' L2(l2) regularizers add to the loss."""
    return l2 * sum(p.square().sum() for name, p in model.named_parameters() if is_kernel(name, p))
