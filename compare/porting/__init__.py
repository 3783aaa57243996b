"""Weights between the twins: framework-neutral `.npz` files in torch's layout,
Keras ⇄ torch conversion, the shared initial weights and parameter counts.

The weights files and parameter counts need NumPy only. The converters import
their framework, so they are handed on lazily: `from compare.porting import
state_to_keras` imports Keras, `from compare.porting import load_weights` does not.
"""

import importlib

from compare.porting.params import keras_param_counts, torch_param_counts
from compare.porting.weights import PortingError, StateDict, load_weights, max_abs_diff, save_weights

CONVERTERS = {
    "state_to_keras": "compare.porting.port_keras",
    "keras_to_state": "compare.porting.port_keras",
    "register_port": "compare.porting.port_keras",
    "state_to_torch": "compare.porting.port_torch",
    "torch_to_state": "compare.porting.port_torch",
}


def __getattr__(name: str):
    if name in CONVERTERS:
        return getattr(importlib.import_module(CONVERTERS[name]), name)
    raise AttributeError(f"module 'compare.porting' has no attribute {name!r}")


__all__ = [
    "PortingError",
    "StateDict",
    "keras_param_counts",
    "keras_to_state",
    "load_weights",
    "max_abs_diff",
    "register_port",
    "save_weights",
    "state_to_keras",
    "state_to_torch",
    "torch_param_counts",
]
