"""The results file: its versioned schema, atomic writes, and validated reads.

`results.json` is the single source of a report. Its layout is described by
`results.schema.json` (JSON Schema) next to this file; `SCHEMA_VERSION` changes
whenever a field changes meaning or is added. `load_results` reads the versions in
`READABLE_VERSIONS`, whose fields a newer version only adds to, and refuses others.
"""

from __future__ import annotations

import enum
import json
import math
import os
import tempfile
from pathlib import Path

SCHEMA_VERSION = 8
# 5 added: the CPU's instruction-set level, the "unsupported" status, torch.compile's disk cache,
# repeated runs (each run's repeat, seed and turn) and their aggregates. 7 added: the batch-size
# sweep (settings.batch_sizes, runs[].anatomy, the aggregates' anatomy). 8 added: deployment (`deploy`).
READABLE_VERSIONS = (4, 5, 6, 7, 8)
SCHEMA_PATH = Path(__file__).parent / "results.schema.json"


class RunStatus(enum.StrEnum):
    """How a run ended: the `status` of every run in results.json."""

    OK = "ok"
    DIVERGED = "diverged"  # stopped at a non-finite loss
    FAILED = "failed"  # raised, crashed, or was killed
    TIMEOUT = "timeout"  # outlived --timeout and was stopped
    NOT_INSTALLED = "not_installed"  # its framework is not installed here
    UNSUPPORTED = "unsupported"  # the framework cannot compute the chosen precision for this model here


FINISHED = (RunStatus.OK, RunStatus.DIVERGED)  # trained to its end (a diverged run to its non-finite loss)


class ResultsError(ValueError):
    """A results file that cannot be used; the message says why and what to do."""


def finite(value):
    """`value` with every NaN or infinity replaced by None: JSON has no NaN, and a
    diverged run's losses are exactly that."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value


def write_json_atomic(path: Path, document: dict) -> None:
    """Write to a temporary file beside `path`, then rename over it: a reader
    (or a crash) never sees half a file. Non-finite numbers are written as null."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(finite(document), out, indent=2, allow_nan=False, default=str)
            out.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def validate(document: dict, where: str) -> None:
    import jsonschema  # imported here: only reading needs it

    version = document.get("schema_version") if isinstance(document, dict) else None
    if version not in READABLE_VERSIONS:
        raise ResultsError(
            f"{where} has schema_version {version!r}; this version of keras-torch-compare "
            f"reads versions {', '.join(map(str, READABLE_VERSIONS))}. Re-run the comparison to produce it."
        )
    schema = json.loads(SCHEMA_PATH.read_text())
    try:
        jsonschema.validate(document, schema)
    except jsonschema.ValidationError as error:
        at = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        raise ResultsError(f"{where} does not match the results schema at {at}: {error.message}") from None


def load_results(path: Path) -> dict:
    """Read and validate a results.json (or the results folder holding one)."""
    if path.is_dir():
        path = path / "results.json"
    if not path.is_file():
        raise ResultsError(f"{path} does not exist; give a results folder or its results.json.")
    try:
        document = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ResultsError(f"{path} is not valid JSON ({error}).") from None
    validate(document, str(path))
    return document
