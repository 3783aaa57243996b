"""The lessons, each measured in a child process of its own: twin parity
(compare.lessons.parity), the framework differences (compare.lessons.differences) and
the regularization lesson's (compare.lessons.regularization), run on each Keras backend
by `python -m compare.lessons.worker`; the checks of a user's own twins
(compare.lessons.twins_check, `python -m compare check-twins`); and, in the parent after a
comparison, whether data-parallel training matched one device (compare.lessons.data_parallel,
NumPy only).

Importing `compare.lessons` loads no framework; `from compare.lessons import
differences` or `check_twins` loads Keras and torch.
"""

import importlib

from compare.lessons.difference import Difference, difference

LAZY = {"check_twins": "compare.lessons.twins_check"}  # imports Keras and torch: handed on on demand


def __getattr__(name: str):
    if name in LAZY:
        return getattr(importlib.import_module(LAZY[name]), name)
    raise AttributeError(f"module 'compare.lessons' has no attribute {name!r}")


__all__ = ["Difference", "check_twins", "difference"]
