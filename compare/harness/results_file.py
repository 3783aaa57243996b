"""The results document of a comparison and its results.json: the one owner that changes it.
Every change is saved at once, atomically, so an interrupted comparison keeps everything that
finished. Imports no framework.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from compare.contract.results import SCHEMA_VERSION, write_json_atomic
from compare.harness.environment import environment_record
from compare.harness.executors import overlaps
from compare.harness.plan import Plan, settings_record
from compare.report import statistics


def new_document(plan: Plan) -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "name": "keras-torch-compare",
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "finished": False,
        "settings": settings_record(plan),
        "environment": environment_record(),
        "runs": [],
    }


class ResultsFile:
    """`document`, saved to `path` after every change."""

    def __init__(self, plan: Plan, executor: dict):
        self.path: Path = plan.out / "results.json"
        self.document = new_document(plan)
        self.document["settings"]["executor"] = executor
        self.save()

    def save(self) -> None:
        write_json_atomic(self.path, self.document)

    def set_setting(self, key: str, value) -> None:
        self.document["settings"][key] = value
        self.save()

    def set_checks(self, checks: dict) -> None:
        self.document["checks"] = checks
        self.save()

    def add_run(self, run: dict) -> None:
        """A finished (or failed) run, and which runs overlapped it in time."""
        self.document["runs"].append(run)
        overlaps(self.document["runs"])
        self.save()

    def finish(self, data_parallel: list[dict]) -> dict:
        """The data-parallel parity, the statistics over repeats (aggregates, rankings and their
        intervals; without SciPy, said, for `report DIR` to fill in), and the mark that it ended."""
        self.document["data_parallel"] = data_parallel
        statistics.complete(self.document)
        self.document["finished"] = True
        self.save()
        return self.document
