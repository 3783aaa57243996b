"""`check` and `check-twins`: lessons run on each Keras backend in children of their own, without
training, by one path: choose the installed backends, run the children, name any child that left
no result, print the table, and say whether every check passed. Imports no framework.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from compare.catalog.frameworks import keras_backends, keras_framework
from compare.catalog.registry import MODELS, Preset
from compare.contract.job import RunSettings
from compare.contract.results import write_json_atomic
from compare.harness import checks
from compare.harness.arguments import EXIT_OK, EXIT_RUN_FAILED, UsageError, add_backends_argument

# What a `check` folder's results.json says it was: the checks on the shipped sample, no run.
CHECK_PRESET = Preset(
    "check", "sample", "parity and framework-difference checks only, no training", timeout_s=checks.CHECKS_TIMEOUT_S
)


def installed_backends(chosen: list[str], needed_for: str) -> list[str]:
    """The `chosen` Keras backends that are installed, beside torch; none is a usage error."""
    backends = checks.checkable_backends([keras_framework(b) for b in chosen])
    if not backends:
        raise UsageError(
            f"{needed_for} needs torch and at least one Keras backend ({', '.join(keras_backends())}); "
            "install them with `pip install -r requirements-cpu.txt`."
        )
    return backends


def run_on_backends(what: str, module: str, arguments: list[str], backends: list[str], folder: Path) -> dict:
    """The lesson `module` in one child per backend: {backend: its result}, the children that left
    none named on stderr with their last words (their entries then hold "error")."""
    print(f"{what} on the Keras backends {', '.join(backends)}, each in its own process ...")
    results = checks.run_lesson(module, arguments, backends, folder, checks.CHECKS_TIMEOUT_S)
    for backend, result in results.items():
        if "error" in result:
            last_words = result.get("traceback") or result.get("stderr_tail", "")
            print(f"\n{backend}: {result['error']}\n{last_words}", file=sys.stderr)
    return results


def verdict(results: dict, passed: Callable[[dict], bool]) -> int:
    """Exit status, and the sentence: every backend's child answered and every check `passed`."""
    failed = [backend for backend, result in results.items() if "error" in result or not passed(result)]
    if failed:
        print(f"\nA check FAILED on: {', '.join(failed)}.", file=sys.stderr)
        return EXIT_RUN_FAILED
    print("\nEvery check passes.")
    return EXIT_OK


def check_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m compare check",
        description="Port weights between the twins and check parity and every framework difference, on "
        "each installed Keras backend (in parallel processes), without training. Writes results.json, "
        "report.md and report.html, and prints the parity and differences sections.",
    )
    add_backends_argument(parser)
    parser.add_argument("--out", type=Path, help="results folder (default: results/check-<timestamp>)")
    return parser


def run_check(out: Path, backends: list[str]) -> int:
    """The checks on `backends`, written into `out`, a folder this process holds."""
    from compare import report
    from compare.data.datasets import load_sample
    from compare.harness import plan as planning
    from compare.harness.results_file import new_document

    plan = planning.Plan(
        preset=CHECK_PRESET,
        budgets={},
        models=list(MODELS),
        frameworks=[keras_framework(b) for b in backends],
        frameworks_chosen=False,
        data=load_sample(),
        targets={},
        settings=RunSettings(device="cpu", jit_compile="auto", precision="fp32"),
        timeout_s=CHECK_PRESET.timeout_s,
        out=out,
    )
    document = new_document(plan)
    document["checks"] = run_on_backends("Checks", checks.CHECKS, [], backends, out / "runs")
    document["finished"] = True
    write_json_atomic(out / "results.json", document)
    report.write_report(document, out)
    for section in [report.parity_section(document), *report.differences_sections(document)]:
        print(f"\n{'#' * section.level} {section.title}\n")
        print("\n\n".join(section.paragraphs))
        if section.rows:
            print(report.markdown_table(section.headers, section.rows))
    print(f"\nReport: {out / 'report.md'} and {out / 'report.html'}")
    return verdict(document["checks"], parity_passed)


def parity_passed(result: dict) -> bool:
    return all(p["inference"].get("passed") and p["training"].get("passed") for p in result["parity"].values())


def check_twins_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m compare check-twins",
        description="Check a user's own twins without training, on each Keras backend (in parallel "
        "processes): the constructors' signatures, the output shapes, the parameter counts, porting the "
        "weights, and parity of the logits at step 0 and after one SGD step. Exit 0 when every check "
        "passes, 1 when one fails, 2 when the twins cannot be read, built or ported. Writes nothing.",
    )
    parser.add_argument(
        "reference", metavar="FILE.py[:NAME]", help="the file declaring `Twins(...)`, or an entry point"
    )
    add_backends_argument(parser)
    return parser


def command_check_twins(argv: list[str]) -> int:
    from compare import report

    args = check_twins_parser().parse_args(argv)
    backends = installed_backends(args.backends, "check-twins")
    with tempfile.TemporaryDirectory() as folder:
        what = f"Checking {args.reference}"
        results = run_on_backends(what, checks.TWINS_CHECK, ["check", args.reference], backends, Path(folder))
    refusal = next((r["refused"] for r in results.values() if "refused" in r), None)
    if refusal:
        raise UsageError(refusal)
    checked = {b: r["checks"] for b, r in results.items() if "checks" in r}
    if checked:
        print("\n" + report.markdown_table(*twins_check_table(checked)))
    return verdict(results, lambda result: all(c["passed"] for c in result["checks"]))


def twins_check_table(checked: dict[str, list[dict]]) -> tuple[list[str], list[list[str]]]:
    """One row per check, a pass/FAIL column per backend, and the detail (a failing backend's first)."""
    backends = list(checked)
    rows = []
    for i, check in enumerate(checked[backends[0]]):
        own = [checked[b][i] for b in backends]
        shown = next((c for c in own if not c["passed"]), own[0])
        rows.append([check["name"], *("pass" if c["passed"] else "**FAIL**" for c in own), shown["detail"]])
    return ["check", *backends, "detail"], rows
