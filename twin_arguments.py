"""Constructor-argument checks shared by `keras_models` and `torch_models`.

Both twins of a model call the same checks, so a bad argument is rejected by
each framework with the same words: the argument's name, what it must be, and
the value received (the "Received: ..." style of Keras' own layers).
"""

from collections.abc import Sequence


def positive_int(name: str, value: object) -> int:
    """Return `value` if it is an int > 0 (bools are not ints here)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    return value


def rate(name: str, value: object) -> float:
    """Return `value` if it is a probability usable as a dropout rate, in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"`{name}` must be a float in [0, 1). Received: {name}={value!r}")
    return float(value)


def non_negative_float(name: str, value: object) -> float:
    """Return `value` as a float if it is a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
        raise ValueError(f"`{name}` must be a non-negative number. Received: {name}={value!r}")
    return float(value)


def positive_ints(name: str, values: object, length: int | None = None) -> tuple[int, ...]:
    """Return `values` as a tuple of positive ints, optionally of a given length."""
    if (
        not isinstance(values, Sequence)
        or isinstance(values, str)
        or len(values) == 0
        or (length is not None and len(values) != length)
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values)
    ):
        size = f"{length} " if length is not None else "a non-empty sequence of "
        raise ValueError(f"`{name}` must be {size}positive integers. Received: {name}={values!r}")
    return tuple(values)


def divisible(name: str, value: int, divisor_name: str, divisor: int) -> None:
    """Raise unless `value` is a multiple of `divisor` (e.g. d_model and num_heads)."""
    if value % divisor != 0:
        raise ValueError(f"`{name}` must be divisible by `{divisor_name}`={divisor}. Received: {name}={value}")
