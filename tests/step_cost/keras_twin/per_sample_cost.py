"""The tiny model's Keras twin: its step costs what it costs (only the torch twin is slowed)."""

from tests.tiny_model.keras_twin.tiny import TinyNet

__all__ = ["TinyNet"]
