"""The report's PNG plots: step time, throughput and parameters as grouped bars,
accuracy against epochs and wall time, and the regularization lesson's curves.
matplotlib is imported inside, only when there is something to draw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from compare.report import statistics
from compare.report.anatomy_plots import draw_anatomy, draw_phases
from compare.report.sections import finished_runs, regularized_runs
from compare.report.serving_plot import draw_serving
from compare.report.statistics import model_label


@dataclass(frozen=True)
class Grid:
    """The finished runs as (model, framework) cells, in the order they were run."""

    runs: list[dict]
    models: list[str]
    frameworks: list[str]
    lookup: dict[tuple[str, str], dict]

    @classmethod
    def of(cls, runs: list[dict]) -> Grid:
        return cls(
            runs,
            list(dict.fromkeys(model_label(run) for run in runs)),
            list(dict.fromkeys(run["framework"] for run in runs)),
            {(model_label(run), run["framework"]): run for run in runs},
        )


@dataclass(frozen=True)
class Bars:
    """One grouped bar chart: a value per run, and whiskers where `spread` gives (low, high)."""

    name: str
    value: Callable[[dict], float | None]
    ylabel: str
    title: str
    log: bool
    spread: Callable[[dict], tuple[float, float]] | None = None


STEP_TIME = Bars(
    "step_time",
    lambda r: r["timing"]["step_time_ms_median"],
    "ms per step (log)",
    "Steady-state training step time (median; whiskers: interquartile range)",
    log=True,
    spread=lambda r: (r["timing"]["step_time_ms_q1"], r["timing"]["step_time_ms_q3"]),
)
THROUGHPUT = Bars("throughput", lambda r: r["timing"]["samples_per_s"], "samples/s (log)", "Training throughput", True)
ONE_EPOCH_ACCURACY = Bars(
    "accuracy",
    lambda r: r["final_test_accuracy"] * 100 if r["final_test_accuracy"] is not None else None,
    "test accuracy %",
    "Test accuracy after one epoch",
    log=False,
)
PARAMETERS = Bars(
    "parameters",
    lambda r: r["model_info"]["trainable_params"],
    "trainable parameters (log)",
    "Trainable parameters",
    True,
)


def draw_plots(document: dict, folder: Path) -> list[Path]:
    """Bar charts of step time, throughput and parameters; accuracy per epoch and against time."""
    runs = finished_runs(document)
    if not runs:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    # The bars and lines show the first repeat; spread.png shows every repeat.
    grid = Grid.of([run for run in runs if statistics.repeat_of(run) == 0] or runs)
    paths = [grouped_bars(grid, STEP_TIME, folder, plt), grouped_bars(grid, THROUGHPUT, folder, plt)]
    if max(len(run["history"]) for run in runs) == 1:
        paths.append(grouped_bars(grid, ONE_EPOCH_ACCURACY, folder, plt))
    else:
        paths.append(draw_accuracy_lines(grid, folder / "accuracy.png", plt, "epoch", "epoch"))
    paths.append(grouped_bars(grid, PARAMETERS, folder, plt))
    # Against wall time since the first step (compilation and evaluation included): the
    # framework whose line rises first gets there first.
    since_start = "wall time since the first step, s"
    paths.append(draw_accuracy_lines(grid, folder / "accuracy_vs_time.png", plt, "elapsed_s", since_start))
    regularized = regularized_runs(document)
    if regularized:
        paths.append(draw_regularization(regularized, folder, plt))
    if statistics.repeats_in(document) > 1:
        paths.append(draw_spread(document, folder / "spread.png", plt))
    paths.append(draw_anatomy(document, folder / "anatomy.png", plt))
    paths.append(draw_phases(document, folder / "phases.png", plt))
    paths.append(draw_serving(document, folder / "serving.png", plt))
    return [path for path in paths if path is not None]


def draw_spread(document: dict, path: Path, plt) -> Path:
    """Every repeat's step time (top) and time to target (bottom): one panel per model, one
    column of points per framework and a bar at the cell's median, so overlaps show."""
    grouped = statistics.cells(document)
    models = list(dict.fromkeys(label for label, _ in grouped))
    fig, axes = plt.subplots(2, len(models), figsize=(max(6.0, 3.6 * len(models)), 6.5), squeeze=False)
    for column, model in enumerate(models):
        frameworks = [fw for label, fw in grouped if label == model]
        for row, metric in enumerate(statistics.METRICS):
            ax = axes[row][column]
            for x, framework in enumerate(frameworks):
                values = [v for run in grouped[(model, framework)] if (v := metric.of_run(run)) is not None]
                offsets = [x + 0.08 * (i - (len(values) - 1) / 2) for i in range(len(values))]
                ax.plot(offsets, values, "o", color=f"C{x}", alpha=0.7, markersize=4)
                if values:
                    ax.hlines(float(metric.combine(values)), x - 0.3, x + 0.3, color=f"C{x}")
            ax.set_xticks(range(len(frameworks)), frameworks, rotation=30, ha="right", fontsize=8)
            ax.set_ylabel("step ms (median per run)" if row == 0 else "time to target s")
            ax.set_title(model if row == 0 else "", fontsize=10)
    fig.suptitle("Every repeat: a point per run; bars: median step time, MLPerf mean time to target", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def grouped_bars(grid: Grid, bars: Bars, folder: Path, plt) -> Path | None:
    """One bar per (model, framework). None when nothing was measured (e.g. too few
    steps for a steady state)."""
    value, spread = bars.value, bars.spread
    if not any(value(run) for run in grid.runs):
        return None
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / len(grid.frameworks)
    for i, framework in enumerate(grid.frameworks):
        cells = [grid.lookup.get((m, framework)) for m in grid.models]
        heights = [(value(run) or 0) if run else 0 for run in cells]
        positions = [x + (i - (len(grid.frameworks) - 1) / 2) * width for x in range(len(grid.models))]
        errors = None
        if spread:
            ranges = [spread(run) if run and value(run) else (None, None) for run in cells]
            errors = [
                [h - low if low is not None else 0 for h, (low, _) in zip(heights, ranges)],
                [high - h if high is not None else 0 for h, (_, high) in zip(heights, ranges)],
            ]
        ax.bar(positions, heights, width, label=framework, yerr=errors, capsize=2, ecolor="0.3")
    ax.set_xticks(range(len(grid.models)), grid.models)
    ax.set_ylabel(bars.ylabel)
    ax.set_title(bars.title)
    if bars.log:
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = folder / f"{bars.name}.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def draw_accuracy_lines(grid: Grid, path: Path, plt, x_key: str, x_label: str) -> Path:
    """Test accuracy after each epoch against the history field `x_key`: one panel per
    model, one line per framework."""
    fig, axes = plt.subplots(1, len(grid.models), figsize=(4 * len(grid.models), 3.5), squeeze=False)
    for ax, model in zip(axes[0], grid.models):
        for framework in grid.frameworks:
            run = grid.lookup.get((model, framework))
            if run and run["history"]:
                ax.plot(
                    [e[x_key] for e in run["history"]],
                    [e["test_accuracy"] * 100 for e in run["history"]],
                    marker="o",
                    markersize=3,
                    label=framework,
                )
        ax.set_title(model)
        ax.set_xlabel(x_label)
        if x_key == "epoch":
            ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_ylabel("test accuracy %")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def draw_regularization(runs: list[dict], folder: Path, plt) -> Path:
    """Train (dashed) and test (solid) accuracy per epoch: one panel per model and
    variant, one colour per framework, so each remedy's effect on the gap shows."""
    models = list(dict.fromkeys(run["model"] for run in runs))
    variants = list(dict.fromkeys(run["variant"] for run in runs))
    frameworks = list(dict.fromkeys(run["framework"] for run in runs))
    colours = {framework: f"C{i}" for i, framework in enumerate(frameworks)}
    fig, axes = plt.subplots(
        len(models), len(variants), figsize=(3.6 * len(variants), 3.2 * len(models)), squeeze=False, sharey=True
    )
    for run in runs:
        ax = axes[models.index(run["model"])][variants.index(run["variant"])]
        epochs = [e["epoch"] for e in run["history"]]
        colour = colours[run["framework"]]
        ax.plot(epochs, [e["train_accuracy"] * 100 for e in run["history"]], "--", color=colour)
        ax.plot(epochs, [e["test_accuracy"] * 100 for e in run["history"]], "-", color=colour, label=run["framework"])
        if run["early_stopping"] and run["early_stopping"]["best_epoch"]:
            ax.axvline(run["early_stopping"]["best_epoch"], color=colour, linewidth=0.8, alpha=0.5)
        ax.set_title(f"{run['model']}: {run['variant']}", fontsize=10)
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
    for row in axes:
        row[0].set_ylabel("accuracy % (train dashed, test solid)")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    path = folder / "regularization.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
