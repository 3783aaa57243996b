"""torch module ⇄ framework-neutral state dict (see compare.porting.weights).

The torch layout *is* the neutral layout, so this side only converts tensors
to arrays and checks names and shapes before loading.
"""

from __future__ import annotations

import numpy as np
import torch

from compare.porting.weights import PortingError, StateDict, check_shape

# BatchNorm's step counter: an integer with no Keras twin, not ported.
SKIPPED_BUFFERS = ("num_batches_tracked",)


def is_ported(name: str) -> bool:
    return not name.endswith(SKIPPED_BUFFERS)


def torch_to_state(module: torch.nn.Module) -> StateDict:
    return {
        name: tensor.detach().cpu().numpy().astype(np.float32)
        for name, tensor in module.state_dict().items()
        if is_ported(name)
    }


@torch.no_grad()
def state_to_torch(state: StateDict, module: torch.nn.Module) -> None:
    own = {name: tensor for name, tensor in module.state_dict().items() if is_ported(name)}
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    if missing or unexpected:
        raise PortingError(
            f"{type(module).__name__}: weights missing for {missing or 'none'}; "
            f"weights with no place in the model: {unexpected or 'none'}."
        )
    for name, tensor in own.items():
        check_shape(name, tuple(tensor.shape), state[name].shape, name.rsplit(".", 1)[0])
        tensor.copy_(torch.from_numpy(np.ascontiguousarray(state[name])))
