"""What a torch module does when it runs: the arguments each module was built with, and every
operation its own `forward`s perform, keyed by where in the source they happen.

`torch.fx.symbolic_trace` cannot trace the project's twins (their input guard branches on the
input's shape), so a concrete forward pass is recorded instead: module hooks see each module
call, a `TorchFunctionMode` sees each function (`F.relu`, `x.flatten(1)`, `a + b`), and the
calling frame's instruction position (Python 3.11's `co_positions`) ties each one to the
expression in `forward` that made it. The source is then translated expression by expression
(compare.porting.keras_writer.calls), with this recording as its oracle for shapes and layouts.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.overrides import TorchFunctionMode

TORCH_DIR = str(Path(torch.__file__).parent)
# How a tensor is laid out in torch and in its Keras twin: "nchw" for image maps (channels-last
# in Keras), "stacked" for an RNN's (layers, B, units) state (Keras returns (B, units)), "same"
# where both frameworks hold the same array.
NCHW, STACKED, SAME = "nchw", "stacked", "same"


class WriterError(ValueError):
    """What the writer cannot translate, named with its source line; nothing is written."""


@dataclass
class Event:
    """One operation at one place in a forward: a module call (`module` set) or a function."""

    func: object  # the torch function, or the module called
    args: tuple
    kwargs: dict
    layouts: list[str]  # the layout of each tensor argument, in order
    output: object  # the result (tensor, tuple of tensors, or None)
    owner: torch.nn.Module  # the module whose forward made the call

    @property
    def is_module(self) -> bool:
        return isinstance(self.func, torch.nn.Module)


@dataclass
class Recording:
    root: torch.nn.Module
    arguments: dict[int, dict[str, object]] = field(default_factory=dict)  # id(module) → its bound arguments
    events: dict[tuple, list[Event]] = field(default_factory=lambda: defaultdict(list))  # (code, position) → events
    layouts: dict[int, str] = field(default_factory=dict)  # id(tensor) → layout
    kept: list = field(default_factory=list)  # every recorded tensor, so that ids are not reused

    def layout(self, tensor) -> str:
        return self.layouts.get(id(tensor), SAME)

    def set_layout(self, value, layouts: list[str] | None) -> None:
        """Note each tensor in `value` with its layout (one per tensor, or one for all); None keeps them."""
        if layouts is None:
            return
        found = tensors_in(value)
        for tensor, layout in zip(found, layouts if len(layouts) == len(found) else layouts[:1] * len(found)):
            self.kept.append(tensor)
            self.layouts[id(tensor)] = layout


def tensors_in(value) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for item in value for t in tensors_in(item)]
    return []


def is_own(module: torch.nn.Module) -> bool:
    """A module class of the user's (not torch's own), whose forward the writer translates."""
    return not type(module).__module__.startswith("torch.")


def construct_recorded(cls: type, recording_into: dict[int, dict[str, object]], **arguments) -> torch.nn.Module:
    """`cls(**arguments)` (its defaults for the rest), noting the arguments every module inside it is built with:
    a profile hook sees each module's outermost `__init__` as it is entered, its arguments bound."""

    seen: set[int] = set()  # this construction's modules (an id may be an earlier, collected module's)

    def profile(frame, event, _):
        if event == "call" and frame.f_code.co_name == "__init__":
            module = frame.f_locals.get("self")
            if isinstance(module, torch.nn.Module) and id(module) not in seen:
                seen.add(id(module))
                names, varargs, varkw, values = inspect.getargvalues(frame)
                bound = {name: values[name] for name in names[1:]}
                recording_into[id(module)] = {**bound, **(values.get(varkw) or {} if varkw else {})}

    sys.setprofile(profile)
    try:
        return cls(**arguments)
    except Exception as error:
        raise WriterError(f"{cls.__name__}(**{arguments}) raised {type(error).__name__}: {error}") from None
    finally:
        sys.setprofile(None)


def calling_position(owner: torch.nn.Module) -> tuple | None:
    """(code, position) of the instruction in `owner.forward` running now (None outside it)."""
    code = type(owner).forward.__code__
    frame = sys._getframe(1)
    while frame is not None and frame.f_code is not code:
        frame = frame.f_back
    if frame is None:
        return None
    return code, instruction_positions(code)[frame.f_lasti // 2]


@functools.cache
def instruction_positions(code) -> list[tuple]:
    """Each instruction's source span, read once per forward (every recorded call asks)."""
    return list(code.co_positions())


class ForwardRecorder(TorchFunctionMode):
    """Records every function called directly by a user module's forward, with the layouts of
    its tensor arguments, and sets its result's layout (compare.porting.keras_writer.layouts)."""

    def __init__(self, recording: Recording, output_layout):
        super().__init__()
        self.recording, self.output_layout = recording, output_layout
        self.stack: list[torch.nn.Module] = []  # the modules running, innermost last

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        owner = self.stack[-1] if self.stack else None
        if owner is None or not is_own(owner) or not tensors_in(result):
            return result  # inside a torch module (F.linear in nn.Linear), or a shape query
        self.record(func, args, kwargs, result, owner)
        return result

    def record(self, func, args, kwargs, result, owner) -> None:
        where = calling_position(owner)
        if where is None:
            return  # a helper outside forward: its caller's position is recorded by the module hook
        inputs = tensors_in([*args, *kwargs.values()])
        event = Event(func, args, kwargs, [self.recording.layout(t) for t in inputs], result, owner)
        self.recording.events[where].append(event)
        self.recording.set_layout(result, self.output_layout(event))

    def before(self, module, args, kwargs):
        self.stack.append(module)

    def after(self, module, args, kwargs, output):
        self.stack.pop()
        if self.stack and is_own(self.stack[-1]):
            owner = self.stack[-1]
            where = calling_position(owner)
            inputs = tensors_in([*args, *kwargs.values()])
            event = Event(module, args, kwargs, [self.recording.layout(t) for t in inputs], output, owner)
            if where is not None:
                self.recording.events[where].append(event)
            self.recording.set_layout(output, self.output_layout(event))


def record_forward(cls: type, example: torch.Tensor, example_layout: str, output_layout) -> Recording:
    """Build `cls()` and run `example` through it in eval mode, recording everything."""
    arguments: dict[int, dict[str, object]] = {}
    root = construct_recorded(cls, arguments)
    recording = Recording(root, arguments)
    recording.set_layout(example, [example_layout])
    recorder = ForwardRecorder(recording, output_layout)
    handles = []
    for module in root.modules():
        handles.append(module.register_forward_pre_hook(recorder.before, with_kwargs=True))
        handles.append(module.register_forward_hook(recorder.after, with_kwargs=True))
    try:
        with torch.no_grad(), recorder:
            root.eval()(example)
    except WriterError:
        raise
    except Exception as error:
        raise WriterError(
            f"{cls.__name__}() raised {type(error).__name__} on a batch of {tuple(example.shape)}: {error}"
        ) from None
    finally:
        for handle in handles:
            handle.remove()
    return recording
