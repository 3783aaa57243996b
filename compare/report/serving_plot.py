"""The serving plot: per model, the latency of every route that served, at batch 1 and at the
large batch, on a log axis; a route beyond the parity tolerance is hatched. matplotlib is handed in
by compare.report.plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from compare.report.anatomy_plots import panel_per_model, save
from compare.report.sections.serving import by_model

BATCHES = (("latency_ms_batch_1", "batch 1"), ("latency_ms_large_batch", "large batch"))


def route_label(entry: dict) -> str:
    return f"{entry['framework']}\n{entry['route']} → {entry['runtime']}"


def draw_serving(document: dict, path: Path, plt) -> Path | None:
    models = {m: [e for e in entries if e["status"] == "ok"] for m, entries in by_model(document).items()}
    models = {m: entries for m, entries in models.items() if entries}
    if not models:
        return None
    fig, axes = panel_per_model(plt, list(models))
    for ax, (model, entries) in zip(axes, models.items()):
        rows = np.arange(len(entries))
        for shift, (field, label) in zip((-0.2, 0.2), BATCHES):
            values = [e[field] for e in entries]
            bars = ax.barh(rows + shift, values, height=0.4, label=label)
            for bar, entry in zip(bars, entries):
                if not entry["parity_ok"]:
                    bar.set_hatch("//")
        ax.set_yticks(rows, [route_label(e) for e in entries], fontsize=6)
        ax.set_xscale("log")
        ax.set_xlabel("latency, ms (log)")
        ax.set_title(model, fontsize=9)
    return save(plt, fig, axes, path, "From training to serving: latency per route (hatched: beyond parity tolerance)")
