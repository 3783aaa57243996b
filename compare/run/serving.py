"""The runtimes that serve an exported model, each loaded as it would be in production, and the
measurements of one route: parity with the trainer's logits, latency, size. Every runtime computes
in float32 (OpenVINO is told so: on a CPU with bfloat16 units it would otherwise infer in bf16).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from compare.contract.deployment import LARGE_BATCH, PARITY_TOLERANCE, RouteEntry, RouteStatus
from compare.porting.weights import max_abs_diff
from compare.run.engines.routes import Route
from compare.run.timing import latency_ms

Predict = Callable[[np.ndarray], np.ndarray]  # float32 inputs → float32 logits, on the host
LATENCY_REPEATS = 50  # fewer once half a second is spent (compare.run.timing.latency_ms)


def onnxruntime_session(path: Path) -> Predict:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x})[0]


def openvino_model(path: Path) -> Predict:
    import openvino

    compiled = openvino.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return lambda x: compiled(x)[0]


def tensorflow_saved_model(path: Path) -> Predict:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))  # held by the closure: its functions need its variables alive
    return lambda x: loaded.serve(tf.constant(x)).numpy()


def torch_exported_program(path: Path) -> Predict:
    import torch

    module = torch.export.load(str(path)).module()

    def predict(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return module(torch.from_numpy(x)).numpy()

    return predict


RUNTIMES: dict[str, Callable[[Path], Predict]] = {
    "onnxruntime": onnxruntime_session,
    "openvino": openvino_model,
    "tensorflow": tensorflow_saved_model,
    "torch": torch_exported_program,
}


def folder_size_mb(path: Path) -> float:
    """Every file of the artifact: a SavedModel is a folder, OpenVINO's IR an .xml beside its .bin."""
    files = [path] if path.is_file() else list(path.rglob("*"))
    if path.suffix == ".xml":
        files.append(path.with_suffix(".bin"))
    return sum(f.stat().st_size for f in files if f.is_file()) / 2**20


def tool_message(error: BaseException) -> str:
    """The exporter's or runtime's own words, first lines only: what a reader needs to know why."""
    words = f"{type(error).__name__}: {error}".strip()
    return "\n".join(words.splitlines()[:6])[:800]


def measure(predict: Predict, images: np.ndarray, reference: np.ndarray) -> dict:
    """Parity on `images` against the trainer's logits, and the latency at batch 1 and the large batch."""
    large = np.ascontiguousarray(np.resize(images, (LARGE_BATCH, *images.shape[1:])))  # the images, repeated
    one = np.ascontiguousarray(images[:1])
    parity = max_abs_diff(np.asarray(predict(large), dtype=np.float32)[: len(images)], reference)
    return {
        "parity_max_abs": parity,
        "parity_ok": parity <= PARITY_TOLERANCE,
        "latency_ms_batch_1": latency_ms(lambda: predict(one), LATENCY_REPEATS),
        "latency_ms_large_batch": latency_ms(lambda: predict(large), LATENCY_REPEATS),
    }


def serve_route(route: Route, twin, images: np.ndarray, reference: np.ndarray, folder: Path, **entry) -> RouteEntry:
    """Export the trained `twin` by `route` into `folder`, load the artifact in the route's runtime, measure it.
    An exporter or runtime that refuses gives an `unsupported` entry with its own message."""

    def routed(status: RouteStatus, **found) -> RouteEntry:
        return RouteEntry(**entry, route=route.name, runtime=route.runtime, status=status, **found)

    try:
        predict, export_s = export_and_load(route, twin, (None, *images.shape[1:]), folder)
        measured = measure(predict, images, reference)
    except ImportError as error:
        return routed(RouteStatus.NOT_INSTALLED, message=tool_message(error))
    except Exception as error:  # the exporter's or runtime's refusal, recorded like an unsupported precision
        return routed(RouteStatus.UNSUPPORTED, message=tool_message(error))
    note = "exported once per batch size: the artifact's batch is fixed" if route.fixed_batch else ""
    size = folder_size_mb(folder / route.file_name)
    return routed(RouteStatus.OK, size_mb=size, export_s=export_s, message=note, **measured)


def export_and_load(route: Route, model, input_shape: tuple[int | None, ...], folder: Path) -> tuple[Predict, float]:
    """The served model and the seconds its export took: one artifact taking any batch, or, for a
    fixed-batch route, one per batch size asked for (the first, at batch 1, is the one whose size
    and export time count)."""
    path = folder / route.file_name
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    route.export(model, (1, *input_shape[1:]) if route.fixed_batch else input_shape, path)
    export_s = time.perf_counter() - started
    predict = RUNTIMES[route.runtime](path)
    if not route.fixed_batch:
        return predict, export_s
    by_batch = {1: predict}

    def predict_any(x: np.ndarray) -> np.ndarray:
        if len(x) not in by_batch:
            other = folder / f"batch-{len(x)}" / route.file_name
            other.parent.mkdir(exist_ok=True)
            route.export(model, (len(x), *input_shape[1:]), other)
            by_batch[len(x)] = RUNTIMES[route.runtime](other)
        return by_batch[len(x)](x)

    return predict_any, export_s
