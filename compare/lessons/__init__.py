"""The lessons, each measured in a child process of its own: twin parity
(compare.lessons.parity), the framework differences (compare.lessons.differences) and
the regularization lesson's (compare.lessons.regularization), run on each Keras backend
by `python -m compare.lessons.worker`; and, in the parent after a comparison, whether
data-parallel training matched one device (compare.lessons.data_parallel, NumPy only).

Importing `compare.lessons` loads no framework; `from compare.lessons import
differences` loads Keras and torch.
"""

from compare.lessons.difference import Difference, difference

__all__ = ["Difference", "difference"]
