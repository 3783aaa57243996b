"""The data layer: dataset sources (MNIST, Fashion-MNIST; IDX or .npz, checksummed)
→ verified uint8 arrays, and the shipped 5,000/1,000-digit sample. NumPy only."""

from compare.data.datasets import SOURCES, DataError, Dataset, load_dataset, load_sample, unit_interval

__all__ = ["SOURCES", "DataError", "Dataset", "load_dataset", "load_sample", "unit_interval"]
