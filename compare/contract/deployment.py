"""The deploy job and its entries: what one deploy child needs, and what it gives back for each
route, typed. The parent (compare.harness.deployment) writes a `DeployJob` as JSON; the child
(compare.run.deploy) reads it back and writes one `RouteEntry` per route. Imports no framework.
"""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass
from pathlib import Path

# A served artifact keeps parity when its logits lie within this of the trainer's own on the same
# images, all in float32: an exporter reorders and fuses operations (a fused multiply-add, another
# summation order), which moves logits of magnitude ~10 by ~1e-6; a wrong layout or a lost layer
# moves them by more than 0.1.
PARITY_TOLERANCE = 1e-4
LARGE_BATCH = 256  # the second latency's batch, the training report's inference batch
# The trainer's logits on the parity images, written in its deploy folder by the trainer's child, read
# by the inference-only frameworks' children.
TRAINER_LOGITS = "reference_logits.npy"


class RouteStatus(enum.StrEnum):
    OK = "ok"  # exported, served and measured
    UNSUPPORTED = "unsupported"  # the exporter or the runtime refused: its own message is kept
    FAILED = "failed"  # the deploy child itself ended without a result (crash, timeout)
    NOT_INSTALLED = "not_installed"  # the runtime or exporter's package is missing here


@dataclass(frozen=True, kw_only=True)
class DeployJob:
    model: str  # a key of compare.catalog.registry.MODELS
    framework: str  # the framework whose twin serves: the run's, or an inference-only one
    variant: str  # the run's regularization variant
    weights: str  # the trained weights (.npz, torch's layout) the run wrote
    weights_from: str  # the framework that trained them
    folder: str  # where the artifacts go
    # The trainer's own logits on the parity images (.npy), for a framework that did not train
    # them; None: this child computes its own (it is the trainer's framework).
    reference_logits: str | None = None

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def read(cls, path: Path) -> DeployJob:
        return cls(**json.loads(path.read_text()))


@dataclass(frozen=True, kw_only=True)
class RouteEntry:
    """One (run, route): results.json's `deployment` holds a list of these, as dicts."""

    model: str
    framework: str
    variant: str
    weights_from: str
    route: str  # "onnx", "openvino", "tf_saved_model", "torch.export", "keras" (an inference-only backend)
    runtime: str  # what served it: "onnxruntime", "openvino", "tensorflow", "torch", "keras-numpy", ...
    status: str  # a RouteStatus
    parity_max_abs: float | None = None  # max |served − trainer's| over the parity images' logits
    parity_ok: bool | None = None  # within PARITY_TOLERANCE
    latency_ms_batch_1: float | None = None
    latency_ms_large_batch: float | None = None
    large_batch: int = LARGE_BATCH
    size_mb: float | None = None  # the artifact on disk, every file of it
    export_s: float | None = None
    message: str = ""  # the tool's words for an unsupported route, or a note

    def record(self) -> dict:
        return asdict(self)
