"""A second engine adapter over torch that exists only for the tests, and a Keras framework on
it: two catalog entries and an adapter class, nothing else.
KERAS_TORCH_COMPARE_ENGINES=tests.second_engine adds them to every process's catalog."""

from compare.catalog.frameworks import KERAS, EngineFacts, Framework, register_engine, register_framework

register_engine(EngineFacts("torch-second", "torch", "torch", ("torch",), "tests.second_engine.adapter:SecondTorch"))
register_framework(Framework("keras-torch-second", KERAS, "torch-second", by_default=False))
