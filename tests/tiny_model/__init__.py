"""A fifth model that exists only for the tests: its two twin files and its catalog entry,
nothing else. KERAS_TORCH_COMPARE_MODELS=tests.tiny_model adds it to every process's catalog."""

from compare.catalog.registry import ModelSpec, register

register(
    ModelSpec(
        "tiny",
        "tiny",
        "TinyNet",
        {"keras": (7_850, 0), "torch": (7_850, 0)},  # 784 × 10 weights and 10 biases
        has_dropout=False,
        has_batch_norm=False,
        fit_steps=30,
        packages={"keras": "tests.tiny_model.keras_twin", "torch": "tests.tiny_model.torch_twin"},
    )
)
