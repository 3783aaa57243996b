"""The methods every engine adapter answers (`Engine`), a training step in parts (`StepParts`), and
`engine(name)`, which hands out the adapter the catalog names (compare.catalog.frameworks), made
once per process. Each adapter imports its engine inside its methods, so a child imports only its own.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from compare.catalog.frameworks import ENGINES
from compare.run.engines.routes import Route


@dataclass(frozen=True)
class StepParts:
    """One training step in parts, each returning once its work has finished (compare.run.anatomy
    times them): the forward pass and loss; forward, loss and gradients (returned); the update."""

    forward: Callable[[], object]
    gradients: Callable[[], object]
    update: Callable[[object], object]


class Engine:
    """The methods every engine answers. TF32's defaults differ: TensorFlow and JAX use
    it on Ampere+ GPUs unless told otherwise; torch's matmuls do not (its cuDNN
    convolutions do). bf16 keeps the float32 work that remains (what autocast or the
    policy leave in float32) in full precision; the bf16 compute itself is the runner's."""

    name: ClassVar[str]
    keras_feed: ClassVar[str] = "PyDataset"  # how Keras trains best on it (compare.run.keras_runner.FEEDS)

    def set_precision(self, precision: str) -> str:
        """Set how float32 work computes ("fp32", "tf32" or "bf16", see
        compare.catalog.frameworks.PRECISIONS); return the setting as results record it."""
        return f"{precision}: {self.set_tf32(precision == 'tf32')}"

    def set_tf32(self, enabled: bool) -> str:
        raise NotImplementedError

    def set_deterministic(self) -> str:
        """Ask for deterministic kernels (variables needed before import come from the
        orchestrator). Returns what was set."""
        raise NotImplementedError

    def device_description(self) -> dict:
        """The device the engine computes on, by its own account."""
        raise NotImplementedError

    def peak_device_memory_mb(self) -> float | None:
        """Peak bytes held by the engine's GPU allocator, in MiB; None on the CPU."""
        raise NotImplementedError

    def seed_keras(self, seed: int) -> None:
        """Seed what a Keras run on this engine draws from: Python's random (Keras' unseeded
        SeedGenerators, Dropout's among them, draw their seeds from it) and NumPy."""
        random.seed(seed)
        np.random.seed(seed)

    def runs_torch_compile(self, keras_jit_compile: bool | str) -> bool:
        """Whether Keras' train step on this engine goes through torch.compile."""
        return False

    def float32_matmul_default(self) -> dict:
        """How this engine computes float32 matmuls before anyone sets it, as measured now:
        `backend_float32_matmuls` says it in words (the framework-differences lesson)."""
        raise NotImplementedError

    def keras_step_parts(self, model, x, y) -> StepParts:
        """Keras' training step on this engine in its parts, written with the engine's own API as
        Keras' trainer writes it: the forward pass and loss; forward, loss and gradients; the
        optimizer's update of given gradients. Each returns once its work has finished."""
        raise NotImplementedError

    def keras_routes(self) -> list[Route]:
        """The ways from a trained Keras model on this engine to a served one (compare.run.serving):
        none on an engine that only infers, whose Keras model is itself what serves."""
        return []


ADAPTERS: dict[str, Engine] = {}  # made once per process, by engine()


def engine(name: str) -> Engine:
    """The adapter of engine `name`, as its catalog entry names it; an engine without one is an
    error that names it."""
    if name not in ADAPTERS:
        if name not in ENGINES:
            raise ValueError(
                f"no engine adapter for {name!r} (adapters: {', '.join(ENGINES)}); add its EngineFacts to "
                "compare/catalog/frameworks.py and its adapter to compare/run/engines/"
            )
        module, class_name = ENGINES[name].adapter.split(":")
        ADAPTERS[name] = getattr(importlib.import_module(module), class_name)()
    return ADAPTERS[name]
