"""`deploy`: from trained models to served ones. For every finished run of a results folder, a
child of the run's framework exports its trained weights by each route its engine offers and serves
each artifact (compare.run.deploy); then Keras' inference-only backends serve each model's reference
run. One child at a time, as training runs, so that no two latencies share the cores. The entries
go into results.json's `deployment` list, the only thing added. Imports no framework.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from compare.catalog.frameworks import FRAMEWORKS, REFERENCE, serving_frameworks
from compare.catalog.registry import Regularization
from compare.contract.deployment import TRAINER_LOGITS, DeployJob, RouteEntry, RouteStatus
from compare.contract.results import FINISHED, SCHEMA_VERSION, load_results, write_json_atomic
from compare.harness.children import Supervisor, child_environment, exit_reason, python_module, tail
from compare.harness.plan import file_stem

DEPLOY_TIMEOUT_S = 900  # one run's every route; exporting a ResNet through three converters takes ~1 min on a CPU
DEPLOY_CHILD = "compare.run.deploy"


def run_stem(run: dict) -> str:
    return file_stem(run["model"], run["framework"], Regularization(**run["regularization"]), run.get("repeat", 0))


def deployable_runs(document: dict, folder: Path) -> list[dict]:
    """The finished runs of the first repeat whose trained weights are in the folder."""
    return [
        run
        for run in document["runs"]
        if run["status"] in FINISHED
        and run.get("repeat", 0) == 0
        and (folder / "runs" / f"{run_stem(run)}.weights.npz").is_file()
    ]


def served_by_inference_only(runs: list[dict]) -> list[dict]:
    """Per model and variant, the run whose weights the inference-only backends serve: the reference
    framework's, else the first."""
    chosen: dict[tuple[str, str], dict] = {}
    for run in runs:
        key = (run["model"], run["variant"])
        if key not in chosen or run["framework"] == REFERENCE:
            chosen[key] = run
    return list(chosen.values())


def deploy(
    folder: Path,
    timeout_s: float = DEPLOY_TIMEOUT_S,
    frameworks: list[str] | None = None,
    supervisor: Supervisor | None = None,
) -> list[dict]:
    """Serve every deployable run of `folder` (of `frameworks` only, when given: trainers' runs and
    inference-only backends alike) and add the entries to its results.json; return them. Raises
    ValueError when the folder has no run to serve."""
    document = load_results(folder)
    chosen = set(frameworks or FRAMEWORKS)
    runs = [run for run in deployable_runs(document, folder) if run["framework"] in chosen]
    if not runs:
        raise ValueError(
            f"{folder} has no finished run with its trained weights (runs/*.weights.npz); run a comparison "
            "into it first, e.g. `python -m compare --preset smoke --out " + str(folder) + "`."
        )
    supervisor = supervisor or Supervisor()
    entries = []
    for run in runs:
        print(f"Serving {run['model']} trained on {run['framework']} ...", flush=True)
        entries += serve_in_child(job_for(run, run["framework"], folder), folder, timeout_s, supervisor)
    for run in served_by_inference_only(runs):
        reference = folder / "deploy" / run_stem(run) / TRAINER_LOGITS
        for framework in (f for f in serving_frameworks() if f in chosen):
            job = job_for(run, framework, folder, reference_logits=str(reference))
            missing = FRAMEWORKS[framework].missing_modules()
            if missing or not reference.is_file():
                why = f"no module {', '.join(missing)}" if missing else f"{run['framework']}'s child left no logits"
                entries.append(failed_entry(job, RouteStatus.NOT_INSTALLED if missing else RouteStatus.FAILED, why))
                continue
            print(f"Serving {run['model']} on {framework} ...", flush=True)
            entries += serve_in_child(job, folder, timeout_s, supervisor)
    document["deployment"] = entries
    document["schema_version"] = SCHEMA_VERSION
    write_json_atomic(folder / "results.json", document)
    return entries


def job_for(run: dict, framework: str, folder: Path, reference_logits: str | None = None) -> DeployJob:
    serving = framework != run["framework"]
    return DeployJob(
        model=run["model"],
        framework=framework,
        variant=run["variant"],
        weights=str(folder / "runs" / f"{run_stem(run)}.weights.npz"),
        weights_from=run["framework"],
        folder=str(folder / "deploy" / (f"{run_stem(run)}--on-{framework}" if serving else run_stem(run))),
        reference_logits=reference_logits,
    )


def failed_entry(job: DeployJob, status: RouteStatus, message: str) -> dict:
    """One entry standing for every route of a child that could not serve."""
    return RouteEntry(
        model=job.model,
        framework=job.framework,
        variant=job.variant,
        weights_from=job.weights_from,
        route="every route",
        runtime="none",
        status=status,
        message=message,
    ).record()


def serve_in_child(job: DeployJob, folder: Path, timeout_s: float, supervisor: Supervisor) -> list[dict]:
    """`python -m compare.run.deploy` for one job, in the framework's environment; its entries, or one
    failed entry with the child's last words."""
    work = Path(job.folder)
    work.mkdir(parents=True, exist_ok=True)
    spec, result, log = work / "job.json", work / "result.json", work / "deploy.log"
    job.write(spec)
    result.unlink(missing_ok=True)
    process = supervisor.start(
        python_module(DEPLOY_CHILD), [str(spec), str(result)], child_environment(job.framework, "cpu"), log
    )
    finished = supervisor.wait(process, timeout_s)
    if finished and result.is_file():
        return json.loads(result.read_text())["entries"]
    reason = f"timed out after {timeout_s:.0f} s" if not finished else exit_reason(process.returncode)
    print(f"  {job.framework}: {reason}\n{tail(log)[-1500:]}", file=sys.stderr)
    return [failed_entry(job, RouteStatus.FAILED, f"{reason}: {tail(log)[-600:]}")]
