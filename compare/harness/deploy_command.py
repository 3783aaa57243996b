"""`python -m compare deploy RESULTS_DIR`: serve a comparison's trained models by every export route
(compare.harness.deployment), then re-render its report with the "From training to serving" section
and print that section. Imports no framework."""

from __future__ import annotations

import argparse
from pathlib import Path

from compare.catalog.frameworks import FRAMEWORKS
from compare.contract.deployment import RouteStatus
from compare.contract.results import ResultsError
from compare.harness.arguments import EXIT_OK, EXIT_RUN_FAILED, UsageError, names, positive_int
from compare.harness.deployment import DEPLOY_TIMEOUT_S, deploy
from compare.harness.folder_lock import claim_folder


def deploy_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m compare deploy",
        description="Export every finished run's trained model by each route its framework offers (ONNX, "
        "torch.export, OpenVINO, TensorFlow SavedModel), serve each artifact in its runtime, and serve the "
        "weights on Keras' inference-only backends (numpy, openvino): parity with the trainer's logits, "
        "latency at batch 1 and 256, size, export time. Adds `deployment` to results.json and re-renders "
        "the report. Exit 0 when every child answered (an unsupported route is a finding), 1 when one failed.",
    )
    parser.add_argument("folder", type=Path, help="a results folder whose runs kept their weights (runs/*.weights.npz)")
    parser.add_argument(
        "--frameworks",
        type=names(FRAMEWORKS, "framework"),
        default=None,
        help="comma-separated: serve only these frameworks' runs, and only these inference-only backends "
        "(default: every run, and every inference-only backend installed)",
    )
    parser.add_argument(
        "--timeout", type=positive_int, default=DEPLOY_TIMEOUT_S, help=f"seconds per run (default {DEPLOY_TIMEOUT_S})"
    )
    return parser


def command_deploy(argv: list[str]) -> int:
    args = deploy_parser().parse_args(argv)
    if not (args.folder / "results.json").is_file():
        raise UsageError(f"{args.folder} holds no results.json; give the folder of a comparison.")
    lock = claim_folder(args.folder)
    try:
        return deploy_folder(args.folder, args.timeout, args.frameworks)
    finally:
        lock.release()


def deploy_folder(folder: Path, timeout_s: float = DEPLOY_TIMEOUT_S, frameworks: list[str] | None = None) -> int:
    """Deploy `folder`'s runs, held by this process; write the report and print its serving section."""
    from compare import report
    from compare.contract.results import load_results

    try:
        entries = deploy(folder, timeout_s, frameworks)
    except (ResultsError, ValueError) as error:
        raise UsageError(str(error)) from None
    document = load_results(folder)
    report.write_report(document, folder)
    for section in report.serving_sections(document):
        print(f"\n{section.title}:\n" + report.markdown_table(section.headers, section.rows))
    print(f"\nReport: {folder / 'report.md'} and {folder / 'report.html'}")
    failed = [e for e in entries if e["status"] == RouteStatus.FAILED]
    return EXIT_RUN_FAILED if failed else EXIT_OK
