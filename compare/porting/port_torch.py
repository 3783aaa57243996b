"""torch module ⇄ framework-neutral state dict (see compare.porting.weights).

The torch layout *is* the neutral layout, so this side converts tensors to arrays, checks
names and shapes before loading, and finds the one fact the weights do not hold: which
Linear layers read a flattened feature map, and its (C, H, W).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

from compare.porting.weights import LAYOUT, PortingError, StateDict, check_shape, weights_only

# BatchNorm's step counter: an integer with no Keras twin, not ported.
SKIPPED_BUFFERS = ("num_batches_tracked",)


def is_ported(name: str) -> bool:
    return not name.endswith(SKIPPED_BUFFERS)


class OutputRecorder(TorchFunctionMode):
    """Every tensor a forward pass computes, in order, with whether a weight went into it: every
    torch operation is seen, inside a module or written in `forward` (F.max_pool2d, x.view,
    torch.flatten, x.flatten), which module hooks alone would miss."""

    def __init__(self) -> None:
        super().__init__()
        self.outputs: list[tuple[tuple[int, ...], bool]] = []  # (shape, made with a weight)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        if isinstance(result, torch.Tensor) and not isinstance(result, torch.nn.Parameter):
            inputs = [*args, *(kwargs or {}).values()]
            weighted = any(isinstance(x, torch.nn.Parameter) for x in inputs)
            self.outputs.append((tuple(result.shape), weighted))
        return result


def flattened_map(outputs: list[tuple[tuple[int, ...], bool]], shape: tuple[int, ...]) -> tuple[int, int, int] | None:
    """(C, H, W) of the feature map that became a Linear's input of `shape`: walking back from the
    input over weightless results of its shape (the flatten itself, Dropout, an activation), the
    first other result, when it is a map of more than one channel with as many values."""
    for earlier, weighted in reversed(outputs):
        if earlier == shape and not weighted:
            continue
        if len(earlier) == 4 and earlier[1] > 1 and int(np.prod(earlier[1:])) == shape[-1]:
            return earlier[1:]
        return None
    return None


@torch.no_grad()
def flattened_inputs(module: torch.nn.Module, example: torch.Tensor) -> dict[str, tuple[int, int, int]]:
    """{path of a Linear: (C, H, W)} for each Linear whose input is a feature map flattened
    (by nn.Flatten, or in forward by a view, reshape or flatten, after a module or a function),
    found by running `example` while recording every operation's result."""
    recorder = OutputRecorder()
    found: dict[str, tuple[int, int, int]] = {}

    def record_input(linear_path: str):
        def hook(linear, args):
            chw = flattened_map(recorder.outputs, tuple(args[0].shape))
            if chw is not None:
                found[linear_path] = chw

        return hook

    handles = [
        sub.register_forward_pre_hook(record_input(path))
        for path, sub in module.named_modules()
        if isinstance(sub, torch.nn.Linear)
    ]
    was_training = module.training
    try:
        recorder.outputs.append((tuple(example.shape), False))  # the input itself
        with recorder:
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
