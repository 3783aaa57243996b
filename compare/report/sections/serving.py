"""From training to serving: each trained model exported by every route its framework offers and
served in its runtime (results.json's `deployment`, schema 8), per model a table of route × parity ×
latency × size × export time, and the fastest route that keeps parity."""

from __future__ import annotations

from compare.contract.deployment import PARITY_TOLERANCE
from compare.report.columns import cell, table
from compare.report.sections.common import Section, fmt


def served(entry: dict) -> str:
    """Where the weights came from and who served them."""
    if entry["weights_from"] == entry["framework"]:
        return entry["framework"]
    return f"{entry['framework']} (weights from {entry['weights_from']})"


def parity_text(entry: dict) -> str:
    if entry["parity_max_abs"] is None:
        return "—"
    return f"{entry['parity_max_abs']:.1e}" + ("" if entry["parity_ok"] else " **beyond tolerance**")


def status_text(entry: dict) -> str:
    if entry["status"] == "ok":
        return "ok"
    words = " ".join(entry["message"].split())  # the tool's message on one line
    return f"{entry['status']}: {words[:300]}" if words else entry["status"]


SERVING_COLUMNS = [
    cell("trained in / served by", served),
    cell("route", lambda e: e["route"]),
    cell("runtime", lambda e: e["runtime"]),
    cell("status", status_text),
    cell("parity max |Δ|", parity_text),
    cell("latency ms, batch 1", lambda e: fmt(e["latency_ms_batch_1"], ".3f")),
    cell("latency ms, large batch", lambda e: fmt(e["latency_ms_large_batch"], ".2f")),
    cell("size MiB", lambda e: fmt(e["size_mb"], ".2f")),
    cell("export s", lambda e: fmt(e["export_s"], ".1f")),
]


def fastest_kept(entries: list[dict], latency: str) -> dict | None:
    """The route with the lowest `latency` among those that served within the parity tolerance."""
    kept = [e for e in entries if e["status"] == "ok" and e["parity_ok"] and e[latency] is not None]
    return min(kept, key=lambda e: e[latency], default=None)


def by_model(document: dict) -> dict[str, list[dict]]:
    models: dict[str, list[dict]] = {}
    for entry in document.get("deployment") or []:
        models.setdefault(entry["model"], []).append(entry)
    return models


def fastest_sentence(model: str, entries: list[dict]) -> str:
    """The verdict's sentence for one model: its fastest served route at each batch size."""
    parts = []
    for latency, words in (("latency_ms_batch_1", "one image"), ("latency_ms_large_batch", "a large batch")):
        best = fastest_kept(entries, latency)
        if best is not None:
            parts.append(
                f"for {words}, {best['route']} in {best['runtime']} from {best['framework']} "
                f"({fmt(best[latency], '.3g')} ms)"
            )
    return f"{model}: " + ("; ".join(parts) if parts else "no route kept parity") + "."


def serving_verdict(document: dict) -> list[str]:
    """The verdict's paragraph on serving, when the comparison was deployed."""
    models = by_model(document)
    if not models:
        return []
    return [
        "Fastest way to serve, among routes that keep parity: "
        + " ".join(fastest_sentence(model, entries) for model, entries in models.items())
    ]


def serving_sections(document: dict) -> list[Section]:
    """The section and one table per model; [] when the comparison was not deployed."""
    models = by_model(document)
    if not models:
        return []
    intro = Section(
        "From training to serving",
        [
            "Each run's trained weights, loaded into its own framework's twin, exported by every route its "
            "framework offers, and served in the runtime that would serve it in production. Parity: the largest "
            f"|Δ| between the served logits and the trainer's own on the same 64 test digits, float32 everywhere "
            f"(tolerance {PARITY_TOLERANCE:g}: an exporter reorders and fuses operations, which moves logits by "
            "~1e-6; a wrong layout moves them by far more). Latency: the median of repeated calls after two "
            "warm-up calls, at batch 1 and at the large batch, each runtime with its own default threads. Size: "
            "every file of the artifact. An `unsupported` route is the exporter's or runtime's refusal, in its "
            "own words. Keras' inference-only backends (numpy, openvino) serve the reference run's weights "
            "themselves.",
            *serving_verdict(document),
        ],
    )
    tables = [Section(model, [], *table(SERVING_COLUMNS, entries), level=3) for model, entries in models.items()]
    return [intro, *tables]
