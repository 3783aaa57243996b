"""Where the comparison ran: the environment it recorded, and, when runs ran at the same time,
where each ran and which runs overlapped it."""

from __future__ import annotations

from compare.catalog.frameworks import PRECISIONS
from compare.report.columns import cell, table
from compare.report.sections.common import Section, finished_runs
from compare.report.statistics import model_label


def placement_paragraphs(executor: dict, runs: list[dict]) -> list[str]:
    paragraphs = [
        f"Runs executed with the `{executor.get('name', '?')}` executor, several at once: each on its own "
        "GPU(s) and share of the CPU cores, as recorded below, with the runs that overlapped it in time."
    ]
    if executor.get("shared_cpu"):
        paragraphs.append(
            "**These runs shared one CPU** (`--share-cpu`): each timing includes the others' load on the "
            "memory and caches, so compare them with care; one run at a time measures each alone."
        )
    hosts = {run["placement"]["host"] for run in runs}
    if len(runs) > 1 and len(hosts) == 1:
        paragraphs.append(f"Every run ran on one node, `{hosts.pop()}`.")
    return paragraphs


PLACEMENT_COLUMNS = [
    cell("model", model_label),
    cell("framework", lambda run: run["framework"]),
    cell("repeat", lambda run: str(run.get("repeat", 0))),
    cell("host", lambda run: run["placement"]["host"]),
    cell("GPUs", lambda run: ",".join(run["placement"]["gpus"]) or "none"),
    cell("CPU", lambda run: f"{len(run['placement']['cpus'])} cores"),
    cell("Slurm job", lambda run: run["placement"].get("slurm_job_id") or ""),
    cell("overlapping runs", lambda run: str(len(run.get("overlapped_with", [])))),
]


def placement_section(document: dict) -> Section | None:
    """Where each run ran and which runs overlapped it, when runs ran at the same time."""
    executor = document["settings"].get("executor") or {}
    runs = [run for run in document["runs"] if run.get("placement")]
    if not executor.get("concurrent") and not any(run.get("overlapped_with") for run in runs):
        return None
    return Section("Where the runs ran", placement_paragraphs(executor, runs), *table(PLACEMENT_COLUMNS, runs))


def cpu_text(env: dict) -> str:
    """The CPU, its threads, and its instruction-set level (recorded since schema 5)."""
    text = f"{env['cpu']}, {env['cpu_threads']} threads"
    if env.get("cpu_capability"):
        text += f", torch kernels: {env['cpu_capability']}"
    if env.get("onednn_max_cpu_isa"):
        text += f", oneDNN capped at {env['onednn_max_cpu_isa']} (ONEDNN_MAX_CPU_ISA)"
    return text


def environment_section(document: dict) -> Section:
    env, settings = document["environment"], document["settings"]
    gpus = "; ".join(f"{g['name']} (driver {g['driver']}, {g['memory']})" for g in env["gpus"]) or "none"
    packages = ", ".join(f"{name} {version}" for name, version in env["packages"].items() if version)
    devices = {f"{run['framework']}: {run['device']['name']}" for run in finished_runs(document)}
    rows = [
        ["data", settings["data"]["source"]],
        ["preset", f"{settings['preset']}: {settings.get('preset_description', '')}"],
        ["device", settings["device"]],
        ["devices used", "; ".join(sorted(devices)) or "—"],
        ["GPUs", gpus],
        ["CPU", cpu_text(env)],
        ["Python", f"{env['python']} on {env['platform']}"],
        ["packages", packages],
        ["precision", f"{settings['precision']}: {PRECISIONS[settings['precision']]}"],
        ["Keras jit_compile", settings["jit_compile"]],
        ["torch.compile mode", settings["compile_mode"]],
        [
            "until target",
            "yes: each run stopped at the first epoch that reached its target"
            if settings["until_target"]
            else "no: every run trained its preset's epochs",
        ],
        ["Adam epsilon", str(settings["adam_epsilon"])],
        ["seed", str(settings["seed"])],
        ["git commit", env["git_commit"] or "—"],
        ["started", document["created"] + ("" if document["finished"] else " (interrupted: partial results)")],
    ]
    return Section("Environment", [], ["", ""], rows)
