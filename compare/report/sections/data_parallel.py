"""The data-parallel lesson's section: each run over several devices beside its single-device
twin, in speed, accuracy and final weights."""

from __future__ import annotations

from dataclasses import dataclass

from compare.report.columns import cell, table
from compare.report.sections.common import Section, finished_runs, fmt, percent
from compare.report.statistics import model_label


@dataclass(frozen=True)
class DataParallelRow:
    run: dict  # over several devices
    parity: dict | None  # its weights against its twin's (document["data_parallel"])
    single: dict | None  # the single-device twin's run

    def beside(self, show) -> str:
        """What `show` writes of the run, against its twin's: `12.00 vs 11.50`."""
        return f"{show(self.run)} vs {show(self.single) if self.single else '—'}"

    def weights(self) -> str:
        if self.parity is None:
            return "—"
        relative = fmt(self.parity["relative_to_update"], ".1e")
        return f"{self.parity['max_abs_weight_diff']:.1e} ({relative} of the largest update)"

    def verdict(self) -> str:
        if self.parity is None:
            return "no single-device twin in this comparison"
        if not self.parity["expected_to_match"]:
            return "not expected: " + "; ".join(self.parity["why_not"])
        return "yes" if self.parity["within_tolerance"] else "NO"


DATA_PARALLEL_COLUMNS = [
    cell("model", lambda r: model_label(r.run)),
    cell("framework", lambda r: r.run["framework"]),
    cell("devices", lambda r: str(r.run["devices"])),
    cell("single-device twin", lambda r: r.single["framework"] if r.single else "—"),
    cell("step ms (vs twin)", lambda r: r.beside(lambda run: fmt(run["timing"]["step_time_ms_median"], ".2f"))),
    cell("samples/s (vs twin)", lambda r: r.beside(lambda run: fmt(run["timing"]["samples_per_s"], ",.0f"))),
    cell("test acc (vs twin)", lambda r: r.beside(lambda run: percent(run["final_test_accuracy"]))),
    cell("weights Δ", lambda r: r.weights()),
    cell("same weights", lambda r: r.verdict()),
]


def data_parallel_rows(document: dict) -> list[DataParallelRow]:
    parity = {(row["model"], row["variant"], row["framework"]): row for row in document.get("data_parallel", [])}
    by_key = {(run["model"], run["variant"], run["framework"]): run for run in finished_runs(document)}
    rows = []
    for run in finished_runs(document):
        if run["devices"] > 1:
            row = parity.get((run["model"], run["variant"], run["framework"]))
            single = by_key.get((run["model"], run["variant"], row["reference"])) if row else None
            rows.append(DataParallelRow(run, row, single))
    return rows


def data_parallel_paragraphs(document: dict) -> list[str]:
    paragraphs = [
        "keras-jax-dp sets `keras.distribution.DataParallel(devices=keras.distribution.list_devices())` and "
        "calls the same `fit`: Keras replicates every variable and splits each batch over the devices. "
        "torch-ddp is started by `torchrun`, one process per device; each wraps the model in "
        "`DistributedDataParallel`, takes every world-th image of each global batch (what a "
        "`DistributedSampler` deals it), and "
        "`backward()` averages the gradients across processes. Both keep the global batch size, learning "
        "rate and initial weights of the single-device runs, and see the same global batches.",
    ]
    if document.get("data_parallel"):
        paragraphs.append(
            "Same weights: the largest difference between the data-parallel run's final weights and its "
            f"single-device twin's, within {document['data_parallel'][0]['tolerance']:.0e} of the largest weight "
            "change training made when nothing random differs (averaging over devices only reorders float32 "
            "sums)."
        )
    if document["settings"]["device"] == "cpu":
        paragraphs.append(
            "On a CPU the devices are JAX host devices or gloo processes sharing the same cores: these step "
            "times and throughputs are a correctness check, not a speed claim. Data parallelism pays off "
            "across GPUs."
        )
    else:
        paragraphs.append("Devices: GPUs of this machine.")
    return paragraphs


def data_parallel_section(document: dict) -> Section | None:
    rows = data_parallel_rows(document)
    if not rows:
        return None
    return Section(
        "Data parallel: several devices, one model",
        data_parallel_paragraphs(document),
        *table(DATA_PARALLEL_COLUMNS, rows),
    )
