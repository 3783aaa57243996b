"""One framework difference, told once: a check that measures it and the words around
its numbers. Imports no framework (the checks themselves do, in their own modules).

    @difference(DIFFERENCES, "GELU: tanh approximation versus exact",
                explanation="...", fix="keras.ops.gelu(x, approximate=False)",
                summary="... differs by up to {tanh_vs_exact_max_abs_diff:.1e} ...")
    def gelu_approximation() -> dict:
        return {"tanh_vs_exact_max_abs_diff": ...}

Adding a difference is that one decorated function: the worker runs every entry of
the lists, and the report prints what each recorded.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Difference:
    title: str
    explanation: str
    fix: str  # code that makes the two frameworks agree
    summary: str  # a str.format template over the measured numbers
    check: Callable[..., dict]  # measures it; takes any of `images`, `labels`, `models` by name

    @property
    def key(self) -> str:
        return self.check.__name__

    def __call__(self, **inputs) -> dict:
        """Run the check on the inputs it asks for; return its numbers and the filled-in texts."""
        wanted = inspect.signature(self.check).parameters
        measured = self.check(**{name: value for name, value in inputs.items() if name in wanted})
        return {
            "title": self.title,
            "explanation": self.explanation,
            "fix": self.fix,
            "measured": measured,
            "summary": self.summary.format_map(measured),
        }


def difference(
    entries: list[Difference], title: str, *, explanation: str, fix: str, summary: str
) -> Callable[[Callable[..., dict]], Difference]:
    """Decorator: make a check function into a Difference and append it to `entries`."""

    def register(check: Callable[..., dict]) -> Difference:
        entry = Difference(title, explanation, fix, summary, check)
        entries.append(entry)
        return entry

    return register
