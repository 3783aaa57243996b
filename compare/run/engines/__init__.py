"""What differs per compute engine (TensorFlow, JAX, torch, and Keras' inference-only NumPy and
OpenVINO) and is not a model: one adapter per engine, with the same methods (`base.Engine`), one
file each. A framework's catalog entry names its engine, and the engine's entry names its adapter
(compare.catalog.frameworks); `engine(name)` hands out the adapter, made once per process.
"""

from compare.run.engines.base import ADAPTERS, Engine, StepParts, engine
from compare.run.engines.jax_engine import Jax
from compare.run.engines.tensorflow_engine import TensorFlow
from compare.run.engines.torch_engine import TORCH, Torch

__all__ = ["ADAPTERS", "TORCH", "Engine", "Jax", "StepParts", "TensorFlow", "Torch", "engine"]
