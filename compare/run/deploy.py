"""Serve one run's trained model by every route its framework has, in a process of its own.

    python -m compare.run.deploy JOB.json RESULT.json

Loads the run's trained weights into its framework's twin, computes that twin's own logits on the
shipped sample's first test digits (the reference), then exports the model by each route of its
engine adapter, loads each artifact in the runtime that would serve it, and measures parity against
the reference, latency and size (compare.run.serving). A framework that does not train (Keras on
NumPy or OpenVINO) serves another run's weights itself, against that trainer's logits. Writes
RESULT.json always; a route that cannot be taken is an entry with the tool's own message.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from compare.catalog.frameworks import FRAMEWORKS, KERAS, TORCH, Framework
from compare.catalog.registry import MODELS, ModelSpec
from compare.contract.deployment import TRAINER_LOGITS, DeployJob, RouteEntry, RouteStatus
from compare.contract.results import write_json_atomic
from compare.porting.initial_weights import reference_images
from compare.porting.weights import StateDict, load_weights


def keras_twin(model_spec: ModelSpec, state: StateDict, images: np.ndarray):
    """The Keras twin with the trained weights, its inputs, and how it predicts."""
    from compare.porting.port_keras import build_model, state_to_keras

    model = model_spec.make(KERAS)
    build_model(model, model_spec.input_shape(KERAS))
    state_to_keras(state, model)  # torch layout → Keras layout
    return model, model_spec.model_inputs(images, KERAS), lambda x: np.asarray(model.predict_on_batch(x))


def torch_twin(model_spec: ModelSpec, state: StateDict, images: np.ndarray):
    """The torch twin with the trained weights, in eval mode, its inputs, and how it predicts."""
    import torch

    from compare.porting.port_torch import state_to_torch

    model = model_spec.make(TORCH)
    state_to_torch(state, model)
    model.eval()

    def predict(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(x)).numpy()

    return model, model_spec.model_inputs(images, TORCH), predict


def serve(job: DeployJob, framework: Framework) -> list[RouteEntry]:
    from compare.run.engines import engine
    from compare.run.serving import measure, serve_route

    model_spec = MODELS[job.model]
    images = reference_images()  # (64, 28, 28): the test digits the shared initial weights are checked on
    state, _ = load_weights(Path(job.weights))
    twin = keras_twin if framework.family is KERAS else torch_twin
    model, inputs, predict = twin(model_spec, state, images)
    folder = Path(job.folder)
    folder.mkdir(parents=True, exist_ok=True)
    common = {"model": job.model, "framework": job.framework, "variant": job.variant, "weights_from": job.weights_from}
    if not framework.trains:  # the twin itself is what serves, on an inference-only backend
        reference = np.load(job.reference_logits)
        return [
            RouteEntry(
                **common,
                route="keras",
                runtime=framework.name,
                status=RouteStatus.OK,
                message="the Keras twin itself, predict_on_batch",
                **measure(predict, inputs, reference),
            )
        ]
    reference = predict(inputs)
    np.save(folder / TRAINER_LOGITS, reference)
    adapter = engine(framework.engine)
    routes = adapter.keras_routes() if framework.family is KERAS else adapter.torch_routes()
    return [serve_route(route, model, inputs, reference, folder / route.name, **common) for route in routes]


def main(argv: list[str]) -> int:
    job_path, result_path = Path(argv[0]), Path(argv[1])
    job = DeployJob.read(job_path)
    entries = serve(job, FRAMEWORKS[job.framework])
    write_json_atomic(result_path, {"entries": [entry.record() for entry in entries]})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
