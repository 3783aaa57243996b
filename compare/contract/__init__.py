"""What passes between the parent and its children: the typed job (JobSpec), the
results document and its schema, and the progress events. Below both sides; no framework."""

from compare.contract.job import JobSpec
from compare.contract.results import (
    FINISHED,
    SCHEMA_VERSION,
    ResultsError,
    RunStatus,
    load_results,
    write_json_atomic,
)

__all__ = [
    "FINISHED",
    "SCHEMA_VERSION",
    "JobSpec",
    "ResultsError",
    "RunStatus",
    "load_results",
    "write_json_atomic",
]
