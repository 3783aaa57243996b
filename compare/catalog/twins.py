"""A user's own twins: the declaration their file makes, and how the harness finds it.

    from compare import Twins
    twins = Twins(name="convnet", keras=KerasConvNet, torch=TorchConvNet, inputs="image")

A reference names one declaration: `path/to/file.py[:name]`, or `entry[:name]` for twins an
installed package provides under the entry-point group ENTRY_POINTS. Nothing here imports
a framework; `load_twins` imports the user's file, and with it Keras and torch, so the
harness calls it in its children only.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import re
import sys
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ENTRY_POINTS = "keras_torch_compare.twins"  # [project.entry-points."keras_torch_compare.twins"]
# How MNIST reaches a model: "image" as (B, 28, 28, 1) in Keras and (B, 1, 28, 28) in torch,
# "rows" as (B, 28, 28) in both, a sequence of 28 rows of 28 pixels (ModelSpec.model_inputs).
INPUT_KINDS = ("image", "rows")
NAME = re.compile(r"[a-z][a-z0-9_]*")


class TwinsError(ValueError):
    """A twins reference that cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class Twins:
    """A Keras model class and a torch module class meant to compute the same function.

    Both are called with `args` (none by default) and take MNIST as `inputs` says:
    "image" as (B, 28, 28, 1) in Keras and (B, 1, 28, 28) in torch, "rows" as (B, 28, 28)
    in both. A `dropout_rate` constructor argument lets the checks switch dropout off.
    """

    name: str
    keras: type
    torch: type
    inputs: str = "image"
    args: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.name, str) or not NAME.fullmatch(self.name):
            raise TwinsError(
                "Twins: `name` must be lower-case letters, digits and underscores, starting with a "
                f"letter (it names the model on the command line). Received: name={self.name!r}"
            )
        for family in ("keras", "torch"):
            if not isinstance(getattr(self, family), type):
                raise TwinsError(
                    f"Twins {self.name!r}: `{family}` must be the model's class, not an instance. "
                    f"Received: {family}={getattr(self, family)!r}"
                )
        if self.inputs not in INPUT_KINDS:
            raise TwinsError(
                f"Twins {self.name!r}: `inputs` must be one of {INPUT_KINDS}. Received: inputs={self.inputs!r}"
            )
        if not isinstance(self.args, Mapping):
            raise TwinsError(
                f"Twins {self.name!r}: `args` must be a dict of keyword arguments. Received: args={self.args!r}"
            )


def split_reference(reference: str) -> tuple[str, str | None]:
    """`file.py:name` → ("file.py", "name"); `file.py` → ("file.py", None); likewise an entry."""
    where, colon, name = reference.rpartition(":")
    if colon and name and NAME.fullmatch(name) and not where.endswith(":"):
        return where, name
    return reference, None


def declarations(namespace: Mapping[str, object]) -> list[Twins]:
    """Every Twins in a module's namespace, alone or in a list or tuple, in file order."""
    found: list[Twins] = []
    for item in namespace.values():
        if isinstance(item, Twins):
            found.append(item)
        elif isinstance(item, (list, tuple)) and item and all(isinstance(x, Twins) for x in item):
            found.extend(item)
    return list({id(t): t for t in found}.values())


def raised_where(error: BaseException, path: Path) -> str:
    """ "file, line N: code" of the deepest frame in the user's file (else the deepest frame)."""
    frames = traceback.extract_tb(error.__traceback__)
    own = [f for f in frames if Path(f.filename).resolve() == path] or frames
    frame = own[-1]
    return f"{frame.filename}, line {frame.lineno}: {(frame.line or '').strip()}"


@functools.cache
def import_file(path: Path):
    """Import a Python file as a module of its own; its folder joins the path, for its imports."""
    if not path.is_file() or path.suffix != ".py":
        raise TwinsError(f"{path}: no such Python file. Name a .py file that declares `Twins(...)`.")
    module_name = f"user_twins_{re.sub(r'[^0-9a-zA-Z_]', '_', path.stem)}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    sys.modules[module_name] = module  # so that classes defined there can be found by module name
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[module_name]
        raise TwinsError(
            f"importing {path} raised {type(error).__name__}: {error} (at {raised_where(error, path)}). "
            "Fix the file and try again."
        ) from error
    finally:
        sys.path.remove(str(path.parent))
    return module


def entry_point(name: str):
    """The object an installed package provides as `name` in the entry-point group."""
    found = importlib.metadata.entry_points(group=ENTRY_POINTS).select(name=name)
    if not found:
        installed = sorted(ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINTS))
        raise TwinsError(
            f"{name!r} is neither a .py file nor an installed entry point of {ENTRY_POINTS!r} "
            f"(installed: {', '.join(installed) or 'none'}). Name a file as path/to/file.py[:name]."
        )
    return {"twins": next(iter(found)).load()}


@functools.cache
def load_twins(reference: str) -> Twins:
    """The declaration a reference names; imports its file (once per process)."""
    where, name = split_reference(reference)
    if where.endswith(".py"):
        path = Path(where).expanduser().resolve()
        found, origin = declarations(vars(import_file(path))), str(path)
    else:
        found, origin = declarations(entry_point(where)), f"entry point {where!r}"
    if not found:
        raise TwinsError(
            f"{origin} declares no twins. Add one at module level: "
            "`twins = Twins(name=..., keras=KerasModel, torch=TorchModule, inputs='image')` "
            "(from compare import Twins)."
        )
    names = [t.name for t in found]
    if name is None and len(found) > 1:
        raise TwinsError(f"{origin} declares several twins ({', '.join(names)}); pick one as {where}:NAME.")
    if name is not None and name not in names:
        raise TwinsError(f"{origin} declares no twins named {name!r}; it declares: {', '.join(names)}.")
    return found[0] if name is None else found[names.index(name)]


def resolved(reference: str) -> str:
    """The reference with an absolute path and the declaration's name, as the children get it."""
    where, _ = split_reference(reference)
    twins = load_twins(reference)
    return f"{Path(where).expanduser().resolve() if where.endswith('.py') else where}:{twins.name}"
