"""Command line: `python -m compare` (or `keras-torch-compare`).

    python -m compare [run] [options]   run the comparison (the default command)
    python -m compare report DIR        re-render DIR/report.{md,html} from DIR/results.json
    python -m compare check [--out DIR] parity and framework-difference checks on every
                                        installed Keras backend, without training
    python -m compare env               print the environment record and usable frameworks
    python -m compare deploy DIR        serve DIR's trained models by every export route
    python -m compare check-twins REF   check a user's own twins (path/to/file.py[:name]) without training
    python -m compare write-keras-twin FILE.py:CLASS --out F.py
                                        write a Keras twin of a torch module, then check the pair

Exit status: 0 when every run finished; 1 when any run failed, timed out or
diverged (or a framework named with --frameworks is not installed); 2 for bad
arguments, data or folders; 130 when interrupted (finished runs are kept).

The arguments are compare.harness.arguments'; what they resolve to, compare.harness.resolve's.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import sys
from pathlib import Path

from compare.catalog.frameworks import FRAMEWORKS
from compare.catalog.registry import MODELS, add_twins
from compare.contract.results import ResultsError, load_results, write_json_atomic
from compare.harness import check_commands, deploy_command, twin_writing
from compare.harness.arguments import EXIT_INTERRUPTED, EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE, UsageError, run_parser
from compare.harness.environment import environment_record
from compare.harness.folder_lock import FolderBusy, FolderLock, claim_folder
from compare.harness.resolve import make_executor, make_plan


def command_run(argv: list[str]) -> int:
    add_twins_from(argv)
    args = run_parser().parse_args(argv)
    if args.resume and args.out is None:
        raise UsageError("--resume needs --out DIR, the folder of the comparison to continue.")
    plan = make_plan(args)
    executor = make_executor(args, plan.settings.device, plan.out)
    lock = claim_folder(plan.out)
    try:
        return run_comparison(plan, args.resume, executor)
    finally:
        lock.release()


def print_plan(plan) -> None:
    print(f"Data: {plan.data.describe()}")
    print(f"Preset {plan.preset.name}: {plan.preset.description}")
    for model in plan.models:
        b = plan.budgets[model]
        print(
            f"  {model}: {b.epochs} epoch(s), batch {b.batch_size}, lr {b.learning_rate}, "
            f"train samples {b.train_samples or 'all'}, test samples {b.test_samples or 'all'}"
        )
    print(f"Device: {plan.settings.device} | frameworks: {', '.join(plan.frameworks)} | results: {plan.out}")


def run_comparison(plan, resume: bool, executor=None) -> int:
    """The comparison in `plan`, in a folder this process holds."""
    from compare import report
    from compare.harness import orchestrator

    previous = previous_results(plan, resume)
    print_plan(plan)
    signal.signal(signal.SIGTERM, raise_keyboard_interrupt)  # SIGTERM ends like Ctrl-C: results kept
    try:
        document = orchestrator.run_all(plan, previous=previous, executor=executor)
    except KeyboardInterrupt:
        print("\nInterrupted: the finished runs are kept.", file=sys.stderr)
        document = load_results(plan.out)
        store_statistics(document, plan.out, locked=True)
        report.write_report(document, plan.out)
        print(f"Partial report: {plan.out / 'report.md'}", file=sys.stderr)
        return EXIT_INTERRUPTED
    report.write_report(document, plan.out)
    for section in (report.summary_section(document), report.verdict_section(document)):
        print(f"\n{section.title}:\n" + report.markdown_table(section.headers, section.rows))
    print(f"\nReport: {plan.out / 'report.md'} and {plan.out / 'report.html'}")
    served = deploy_command.deploy_folder(plan.out) if plan.deploy else EXIT_OK  # after the report: it adds to it
    failed = orchestrator.failed_runs(document, plan.frameworks_chosen)
    if failed:
        print(
            f"{len(failed)} run(s) did not finish: "
            + ", ".join(f"{r['model']} on {r['framework']} ({r['status']})" for r in failed),
            file=sys.stderr,
        )
        return EXIT_RUN_FAILED
    return served


def previous_results(plan, resume: bool) -> dict | None:
    """The results --resume continues; a folder that holds results without --resume is refused."""
    from compare.harness import plan as planning

    if not (plan.out / "results.json").exists():
        return None
    if not resume:
        raise UsageError(
            f"{plan.out} already holds a comparison (results.json). Continue it with "
            f"--resume, or choose another --out folder."
        )
    try:
        return planning.resumable(plan, load_results(plan.out))
    except (ResultsError, ValueError) as error:
        raise UsageError(str(error)) from None


def command_report(argv: list[str]) -> int:
    from compare import report

    parser = argparse.ArgumentParser(
        prog="python -m compare report", description="Re-render the report of a results folder from its results.json."
    )
    parser.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    try:
        document = load_results(args.folder)
    except ResultsError as error:
        raise UsageError(str(error)) from None
    folder = writable_folder(args.folder if args.folder.is_dir() else args.folder.parent)
    if store_statistics(document, folder):
        print(folder / "results.json")
    for path in report.write_report(document, folder):
        print(path)
    return EXIT_OK


def store_statistics(document: dict, folder: Path, locked: bool = False) -> bool:
    """Compute the statistics over repeats that `document` lacks (a folder interrupted, or written
    without SciPy) and store them in its results.json, unless a comparison is writing that folder
    now (`locked`: this process is that comparison): then they are only drawn in the report. True
    when results.json was rewritten."""
    from compare.report import statistics

    if not statistics.complete(document):
        return False
    if locked:
        write_json_atomic(folder / "results.json", document)
        return True
    try:
        lock = FolderLock(folder).acquire()
    except FolderBusy:
        return False
    try:
        write_json_atomic(folder / "results.json", document)
    finally:
        lock.release()
    return True


def command_check(argv: list[str]) -> int:
    args = check_commands.check_parser().parse_args(argv)
    backends = check_commands.installed_backends(args.backends, "the checks")
    out = args.out or Path("results") / datetime.datetime.now().strftime("check-%Y%m%d-%H%M%S")
    lock = claim_folder(out)
    try:
        return check_commands.run_check(out, backends)
    finally:
        lock.release()


def command_env(argv: list[str]) -> int:
    argparse.ArgumentParser(
        prog="python -m compare env", description="Print the environment record and which frameworks run here."
    ).parse_args(argv)
    record = environment_record()
    record["frameworks"] = {name: usability(fw) for name, fw in FRAMEWORKS.items()}
    record["keras_backend_env"] = os.environ.get("KERAS_BACKEND")
    print(json.dumps(record, indent=2))
    return EXIT_OK


def usability(framework) -> str:
    if framework.missing_modules():
        return f"missing {', '.join(framework.missing_modules())}: {framework.install_hint}"
    return "usable" if framework.trains else "usable, inference only: it serves trained weights in `deploy`"


def add_twins_from(argv: list[str]) -> None:
    """Read the twins that --twins names (in a child) and add them to the catalog, before
    the parser lists the models --models accepts. Nothing is written on a bad reference."""
    import tempfile

    from compare.harness.checks import describe_twins

    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--twins", action="append", default=[])
    references = pre.parse_known_args(argv)[0].twins
    if not references:
        return
    print(f"Reading the twins in {', '.join(references)} ...", file=sys.stderr)
    with tempfile.TemporaryDirectory() as folder:
        try:
            descriptions = describe_twins(references, Path(folder))
        except ValueError as error:
            raise UsageError(f"--twins: {error}") from None
    taken = [d["name"] for d in descriptions if d["name"] in MODELS]
    if taken:
        raise UsageError(
            f"--twins: {', '.join(taken)} is the name of a model in the catalog already; rename the twins."
        )
    add_twins(descriptions)


def writable_folder(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise UsageError(
            f"cannot write the results folder {path}: {error.strerror}. Choose another with --out."
        ) from None
    return path


def raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt


COMMANDS = {
    "run": command_run,
    "report": command_report,
    "check": command_check,
    "check-twins": check_commands.command_check_twins,
    "write-keras-twin": twin_writing.command_write_keras_twin,
    "deploy": deploy_command.command_deploy,
    "env": command_env,
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = COMMANDS.get(argv[0]) if argv else None
    try:
        return command(argv[1:]) if command else command_run(argv)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
