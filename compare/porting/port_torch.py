"""torch module ⇄ framework-neutral state dict (see compare.porting.weights).

The torch layout *is* the neutral layout, so this side converts tensors to arrays, checks
names and shapes before loading, and finds the one fact the weights do not hold: which
Linear layers read a flattened feature map, and its (C, H, W).
"""

from __future__ import annotations

import numpy as np
import torch

from compare.porting.weights import LAYOUT, PortingError, StateDict, check_shape, weights_only

# BatchNorm's step counter: an integer with no Keras twin, not ported.
SKIPPED_BUFFERS = ("num_batches_tracked",)


def is_ported(name: str) -> bool:
    return not name.endswith(SKIPPED_BUFFERS)


@torch.no_grad()
def flattened_inputs(module: torch.nn.Module, example: torch.Tensor) -> dict[str, tuple[int, int, int]]:
    """{path of a Linear: (C, H, W)} for each Linear whose input is a feature map flattened
    (by nn.Flatten or in forward), found by running `example` with forward hooks: walking
    back from the Linear over weightless steps that keep its input's shape, the first
    other output seen is the map."""
    outputs: list[tuple[tuple[int, ...], bool]] = []  # (shape, has weights), in execution order
    found: dict[str, tuple[int, int, int]] = {}

    def record_input(linear_path: str):
        def hook(linear, args):
            shape = tuple(args[0].shape)
            for earlier, weighted in reversed(outputs):
                if earlier == shape and not weighted:
                    continue  # Dropout, an activation, the Flatten itself
                if len(earlier) == 4 and earlier[1] > 1 and int(np.prod(earlier[1:])) == shape[-1]:
                    found[linear_path] = earlier[1:]
                break

        return hook

    def record_output(sub, args, output):
        if isinstance(output, torch.Tensor):
            outputs.append((tuple(output.shape), any(True for _ in sub.parameters(recurse=False))))

    handles = [module.register_forward_pre_hook(lambda m, args: outputs.append((tuple(args[0].shape), False)))]
    for path, sub in module.named_modules():
        if path and not any(True for _ in sub.children()):
            if isinstance(sub, torch.nn.Linear):
                handles.append(sub.register_forward_pre_hook(record_input(path)))
            handles.append(sub.register_forward_hook(record_output))
    was_training = module.training
    try:
        module.eval()(example)
    finally:
        module.train(was_training)
        for handle in handles:
            handle.remove()
    return found


def torch_to_state(module: torch.nn.Module, example: torch.Tensor | None = None) -> StateDict:
    """The module's weights as arrays; with an `example` input, also where a Flatten of a
    feature map feeds a Linear (`layout/<path>`, see compare.porting.weights)."""
    state = {
        name: tensor.detach().cpu().numpy().astype(np.float32)
        for name, tensor in module.state_dict().items()
        if is_ported(name)
    }
    if example is not None:
        chw = flattened_inputs(module, example.to(next(module.parameters()).device))
        state.update({f"{LAYOUT}{path}": np.array(shape, dtype=np.int64) for path, shape in chw.items()})
    return state


@torch.no_grad()
def state_to_torch(state: StateDict, module: torch.nn.Module) -> None:
    state = weights_only(state)
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
