"""Test models whose torch step costs a known extra amount, registered beside the tiny model:
`fixed_cost` sleeps 5 ms in every forward pass, whatever the batch; `per_sample_cost` sleeps
50 µs per sample. Their sweeps must move a and b of t(B) = a + b·B by those amounts, and only
those. `stalled` sleeps an hour in its first training step: a run that only a cancel ends.
KERAS_TORCH_COMPARE_MODELS=tests.tiny_model,tests.step_cost adds them to every process."""

from compare.catalog.registry import ModelSpec, register

TINY_PARAMS = {"keras": (7_850, 0), "torch": (7_850, 0)}  # the tiny model's: the same Linear

for name in ("fixed_cost", "per_sample_cost", "stalled"):
    register(
        ModelSpec(
            name,
            name,
            "TinyNet",
            TINY_PARAMS,
            has_dropout=False,
            has_batch_norm=False,
            fit_steps=30,
            packages={"keras": "tests.step_cost.keras_twin", "torch": "tests.step_cost.torch_twin"},
        )
    )
