"""The sweep's plot: per model, step time against batch size on log-log axes, every framework's
measured points and its fitted line t(B) = a + b·B. matplotlib is handed in by compare.report.plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from compare.report.anatomy_view import PHASES, swept_cells


def panel_per_model(plt, models: list[str]):
    """One figure, a panel per model side by side: (figure, panels)."""
    fig, axes = plt.subplots(1, len(models), figsize=(max(6.0, 4.2 * len(models)), 4.2), squeeze=False)
    return fig, list(axes[0])


def save(plt, fig, axes: list, path: Path, title: str) -> Path:
    axes[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def draw_anatomy(document: dict, path: Path, plt) -> Path | None:
    cells = swept_cells(document)
    if not cells:
        return None
    models = list(dict.fromkeys(swept.model for swept in cells))
    frameworks = list(dict.fromkeys(swept.framework for swept in cells))
    fig, axes = panel_per_model(plt, models)
    for ax, model in zip(axes, models):
        for swept in (s for s in cells if s.model == model):
            color = f"C{frameworks.index(swept.framework)}"
            points = swept.points()
            ax.plot(list(points), list(points.values()), "o", color=color, label=swept.framework)
            sizes = np.geomspace(min(points), max(points), 50)
            line = swept.cost("fixed_ms") + swept.cost("per_sample_us") / 1e3 * sizes
            ax.plot(sizes, line, "-", color=color, alpha=0.6)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("batch size (log)")
        ax.set_ylabel("ms per step (log)")
        ax.set_title(model, fontsize=10)
    return save(plt, fig, axes, path, "Step time against batch size: points measured, lines a + b·B")


def draw_phases(document: dict, path: Path, plt) -> Path | None:
    """Per model, a stacked bar per framework of its step's phases at the comparison's batch size;
    a negative `other` (a compiled whole step, faster than its parts compiled apart) below zero."""
    cells = [swept for swept in swept_cells(document) if swept.phases()]
    if not cells:
        return None
    models = list(dict.fromkeys(swept.model for swept in cells))
    fig, axes = panel_per_model(plt, models)
    for ax, model in zip(axes, models):
        mine = [swept for swept in cells if swept.model == model]
        for x, swept in enumerate(mine):
            phases, above, below = swept.phases(), 0.0, 0.0
            for index, phase in enumerate(PHASES):
                value = phases[phase]
                bottom = above if value >= 0 else below
                ax.bar(x, value, bottom=bottom, color=f"C{index}", label=phase.replace("_", " ") if x == 0 else None)
                above, below = (above + value, below) if value >= 0 else (above, below + value)
            ax.plot([x - 0.4, x + 0.4], [phases["step"]] * 2, color="black", linewidth=1)
        ax.set_xticks(range(len(mine)), [swept.framework for swept in mine], rotation=30, ha="right", fontsize=8)
        ax.axhline(0, color="grey", linewidth=0.5)
        ax.set_ylabel("ms per step")
        ax.set_title(f"{model} (batch {mine[0].batch_size})", fontsize=10)
    return save(plt, fig, axes, path, "A step in phases; black line: the whole step")
