"""The regularization lesson's section: each variant's train and test accuracy at the weights
it ends with, and how each remedy is spelled in each framework."""

from __future__ import annotations

from compare.catalog.registry import AS_BUILT, Regularization
from compare.report.columns import cell, table
from compare.report.sections.common import Section, finished_runs, fmt, percent


def regularized_runs(document: dict) -> list[dict]:
    return [run for run in finished_runs(document) if run["variant"] != AS_BUILT]


REGULARIZATION_SPELLINGS = [
    "How each is spelled. **L2**: Keras `kernel_regularizer=keras.regularizers.L2(λ)` on each layer "
    "(`fit` adds `model.losses` to the loss); torch `loss = loss + λ * sum(w.square().sum() for w in kernels)`. "
    "**Weight decay**: `weight_decay=` in both optimizers, with different updates (see the Adam weight_decay "
    "difference). **Dropout**: `keras.layers.Dropout(rate)` and `nn.Dropout(rate)`. **Early stopping**: "
    '`keras.callbacks.EarlyStopping(monitor="val_loss", patience=P, restore_best_weights=True)`; in torch '
    "the loop keeps the best weights and stops itself. **Augmentation**: `keras.layers.RandomRotation` and "
    "`RandomTranslation` in front of the model; in torch `F.affine_grid` + `F.grid_sample` on the device.",
    "Train accuracy is the running mean over each epoch in training mode (dropout and augmentation on), "
    "as `fit` reports it; the gap is train minus test accuracy at the epoch whose weights the run ends "
    "with (the best epoch after early stopping). Keras' image preprocessing layers declare "
    '`supports_jit=False`, so `jit_compile="auto"` trains an augmented Keras model without XLA: see '
    "the jit_compile and step-time columns.",
]


def stopping_text(run: dict) -> str:
    stopping = run["early_stopping"]
    if not stopping:
        return "—"
    if stopping["stopped_epoch"]:
        return f"stopped at {stopping['stopped_epoch']}, best {stopping['best_epoch']}"
    return f"ran every epoch, best {stopping['best_epoch']}"


def final_train_accuracy(run: dict) -> float | None:
    """Train accuracy at the epoch whose weights the run ends with (the best, after early stopping)."""
    stopping = run["early_stopping"]
    end = stopping["best_epoch"] if stopping and stopping["best_epoch"] else len(run["history"])
    return run["history"][end - 1]["train_accuracy"] if run["history"] else None


def gap_points(run: dict) -> float | None:
    train, test = final_train_accuracy(run), run["final_test_accuracy"]
    return (train - test) * 100 if train is not None and test is not None else None


REGULARIZATION_COLUMNS = [
    cell("model", lambda run: run["model"]),
    cell("variant", lambda run: run["variant"]),
    cell("framework", lambda run: run["framework"]),
    cell("epochs run", lambda run: str(len(run["history"]))),
    cell("early stopping", stopping_text),
    cell("train acc", lambda run: percent(final_train_accuracy(run))),
    cell("test acc", lambda run: percent(run["final_test_accuracy"])),
    cell("gap (train − test)", lambda run: fmt(gap_points(run), "+.2f", " pp")),
    cell("step ms", lambda run: fmt(run["timing"]["step_time_ms_median"], ".2f")),
    cell("jit_compile", lambda run: str(run["settings"]["jit_compile"])),
]


def describe_variant(variant: dict) -> str:
    return Regularization(**variant).describe()


def regularization_section(document: dict) -> Section | None:
    runs = regularized_runs(document)
    if not runs:
        return None
    variants = {variant["name"]: variant for variant in document["settings"].get("variants", [])}
    described = [
        f"**{name}**: {describe_variant(variant)}" if name != describe_variant(variant) else name
        for name, variant in variants.items()
    ]
    held_out = document["settings"]["validation_fraction"]
    split = f"; {held_out:.0%} of the training images are held out as early stopping's validation split."
    return Section(
        "Regularization: train versus test accuracy",
        [
            "Every variant trains on the same images, from the same initial weights and budget"
            + (split if held_out else "."),
            "; ".join(described) + ".",
            *REGULARIZATION_SPELLINGS,
        ],
        *table(REGULARIZATION_COLUMNS, runs),
    )
