"""Compilation and the data path: what torch.compile did in each run that used it, and how the
images reach the device in each framework."""

from __future__ import annotations

from compare.report.columns import cell, table
from compare.report.sections.common import Section, finished_runs, fmt
from compare.report.statistics import model_label


def disk_cache_text(cache: dict | None) -> str:
    """torch.compile's disk cache as the run found it, and what the run wrote (schema 5)."""
    if cache is None:
        return "not recorded"
    if "files_written" not in cache:  # recorded before the files a run writes were counted
        return "empty" if cache["files"] == 0 else f"not empty: {cache['files']:,} files"
    if cache["state"] == "warm":
        return f"warm: {cache['files']:,} files, none written"
    return f"{cache['state']}: {cache['files']:,} files, {cache['files_written']:,} written"


def compiled(run: dict) -> dict:
    return run["settings"]["compilation"]


COMPILATION_COLUMNS = [
    cell("model", model_label),
    cell("framework", lambda run: run["framework"]),
    cell("mode", lambda run: compiled(run)["mode"]),
    cell("frames compiled", lambda run: str(compiled(run)["frames_compiled"])),
    cell("graphs", lambda run: str(compiled(run)["graphs"])),
    cell("graph breaks", lambda run: str(compiled(run)["graph_breaks"])),
    cell("recompiles after step 1", lambda run: str(compiled(run)["recompiles_after_first_step"])),
    cell("disk cache at start", lambda run: disk_cache_text(compiled(run).get("disk_cache_at_start"))),
    cell("first step s", lambda run: fmt(run["timing"]["time_to_first_step_s"], ".1f")),
]


def compilation_section(document: dict) -> Section | None:
    """What torch.compile did in each run that used it; None when no run did."""
    runs = [run for run in finished_runs(document) if run["settings"].get("compilation")]
    if not runs:
        return None
    return Section(
        "What torch.compile did",
        [
            "Counted by Dynamo in each worker. A graph break splits a function into several graphs with Python "
            "between them; a recompilation after the first training step means the steady state is not steady "
            "(a new shape, a changed Python value guarded on). Evaluation windows are not counted. Disk "
            "cache: torch.compile's on-disk kernel cache when the run began, and the files the run wrote to it. "
            "Empty: nothing there; cold: the run compiled kernels the cache lacked (another model's kernels "
            "may have been there); warm: it found every kernel. A cold start lengthens time to first step "
            "and time to target."
        ],
        *table(COMPILATION_COLUMNS, runs),
    )


def data_path_section(document: dict) -> Section:
    seen: dict[str, str] = {}
    for run in finished_runs(document):
        seen.setdefault(run["framework"], run["settings"]["data_path"])
    return Section(
        "How data reaches the device",
        [
            "Every framework gets the same float32 images scaled to [0, 1], in the same order "
            "(one shared permutation per epoch), in whole batches."
        ],
        ["framework", "path"],
        [[name, text] for name, text in seen.items()],
    )
