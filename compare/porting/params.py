"""Parameter counts, split the same way for both frameworks.

Duck-typed on purpose: importing this module imports neither Keras nor torch.
"""

from __future__ import annotations

import math


def keras_param_counts(model) -> tuple[int, int]:
    """(trainable, non-trainable) weights of a built Keras model."""
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    frozen = sum(math.prod(w.shape) for w in model.non_trainable_weights)
    return trainable, frozen


def torch_param_counts(module) -> tuple[int, int]:
    """(trainable parameters, non-trainable parameters + floating-point buffers).

    Buffers such as BatchNorm's running mean/variance play the role of Keras'
    non-trainable weights; the integer `num_batches_tracked` has no Keras twin.
    """
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in module.parameters() if not p.requires_grad)
    frozen += sum(b.numel() for b in module.buffers() if b.is_floating_point())
    return trainable, frozen
