"""The tiny model's Keras twin: it does not stall (only the torch twin is stalled)."""

from tests.tiny_model.keras_twin.tiny import TinyNet

__all__ = ["TinyNet"]
