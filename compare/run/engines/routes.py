"""A way from a trained model to a served one: a `Route` exports the model to an artifact that a
runtime (compare.run.serving) loads. Each engine adapter lists its routes (`Engine.keras_routes`,
`Torch.torch_routes`); Keras' own `model.export`, which every training backend shares, is here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# (the model, its input shape with the batch size or None for any, the artifact's path)
Exporter = Callable[[object, tuple[int | None, ...], Path], None]


@dataclass(frozen=True)
class Route:
    name: str  # what results.json calls it: "onnx", "openvino", "tf_saved_model", "torch.export"
    runtime: str  # what serves the artifact: a key of compare.run.serving.RUNTIMES
    file_name: str  # the artifact in the run's deploy folder (a folder for a SavedModel)
    export: Exporter
    # The artifact takes only the batch size it was exported with (Keras' ONNX on torch: its
    # exporter fixes every dimension), so it is exported once per batch size served.
    fixed_batch: bool = False


def keras_export(format: str, **options) -> Exporter:
    """`model.export(path, format=...)`, the model's call in inference mode, float32 inputs."""

    def export(model, input_shape: tuple[int | None, ...], path: Path) -> None:
        import keras

        signature = [keras.InputSpec(shape=input_shape, dtype="float32")]
        model.export(str(path), format=format, input_signature=signature, verbose=False, **options)

    return export


KERAS_ONNX = Route("onnx", "onnxruntime", "model.onnx", keras_export("onnx"))
KERAS_OPENVINO = Route("openvino", "openvino", "model.xml", keras_export("openvino"))
KERAS_SAVED_MODEL = Route("tf_saved_model", "tensorflow", "saved_model", keras_export("tf_saved_model"))
