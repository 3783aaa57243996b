"""What can be run: the models and their budgets, presets, the learning-rate schedule,
regularization variants and the frameworks. Plain data; imports no framework."""

from compare.catalog.frameworks import COMPILE_MODES, FRAMEWORKS, PRECISIONS, Framework, default_frameworks
from compare.catalog.registry import MODELS, PRESETS, Budget, ModelSpec, Preset, Regularization

__all__ = [
    "COMPILE_MODES",
    "FRAMEWORKS",
    "MODELS",
    "PRECISIONS",
    "PRESETS",
    "Budget",
    "Framework",
    "ModelSpec",
    "Preset",
    "Regularization",
    "default_frameworks",
]
