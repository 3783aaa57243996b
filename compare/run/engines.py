"""What differs per compute engine (TensorFlow, JAX, torch) and is not a model: one
adapter per engine, with the same methods. A framework's catalog entry names its engine, and
the engine's entry names its adapter (compare.catalog.frameworks); `engine(name)` hands out
the adapter, made once per process.

Each adapter imports its engine inside its methods, so a child imports only its own.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from compare.catalog.frameworks import ENGINES


@dataclass(frozen=True)
class StepParts:
    """One training step in parts, each returning once its work has finished (compare.run.anatomy
    times them): the forward pass and loss; forward, loss and gradients (returned); the update."""

    forward: Callable[[], object]
    gradients: Callable[[], object]
    update: Callable[[object], object]


class Engine:
    """The methods every engine answers. TF32's defaults differ: TensorFlow and JAX use
    it on Ampere+ GPUs unless told otherwise; torch's matmuls do not (its cuDNN
    convolutions do). bf16 keeps the float32 work that remains (what autocast or the
    policy leave in float32) in full precision; the bf16 compute itself is the runner's."""

    name: ClassVar[str]
    keras_feed: ClassVar[str] = "PyDataset"  # how Keras trains best on it (compare.run.keras_runner.FEEDS)

    def set_precision(self, precision: str) -> str:
        """Set how float32 work computes ("fp32", "tf32" or "bf16", see
        compare.catalog.frameworks.PRECISIONS); return the setting as results record it."""
        return f"{precision}: {self.set_tf32(precision == 'tf32')}"

    def set_tf32(self, enabled: bool) -> str:
        raise NotImplementedError

    def set_deterministic(self) -> str:
        """Ask for deterministic kernels (variables needed before import come from the
        orchestrator). Returns what was set."""
        raise NotImplementedError

    def device_description(self) -> dict:
        """The device the engine computes on, by its own account."""
        raise NotImplementedError

    def peak_device_memory_mb(self) -> float | None:
        """Peak bytes held by the engine's GPU allocator, in MiB; None on the CPU."""
        raise NotImplementedError

    def seed_keras(self, seed: int) -> None:
        """Seed what a Keras run on this engine draws from: Python's random (Keras' unseeded
        SeedGenerators, Dropout's among them, draw their seeds from it) and NumPy."""
        random.seed(seed)
        np.random.seed(seed)

    def runs_torch_compile(self, keras_jit_compile: bool | str) -> bool:
        """Whether Keras' train step on this engine goes through torch.compile."""
        return False

    def float32_matmul_default(self) -> dict:
        """How this engine computes float32 matmuls before anyone sets it, as measured now:
        `backend_float32_matmuls` says it in words (the framework-differences lesson)."""
        raise NotImplementedError

    def keras_step_parts(self, model, x, y) -> StepParts:
        """Keras' training step on this engine in its parts, written with the engine's own API as
        Keras' trainer writes it: the forward pass and loss; forward, loss and gradients; the
        optimizer's update of given gradients. Each returns once its work has finished."""
        raise NotImplementedError


class TensorFlow(Engine):
    name = "tensorflow"
    keras_feed = "tf.data"

    def set_tf32(self, enabled: bool) -> str:
        import tensorflow as tf

        tf.config.experimental.enable_tensor_float_32_execution(enabled)
        return f"tf.config.experimental.enable_tensor_float_32_execution({enabled})"

    def set_deterministic(self) -> str:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
        return "tf.config.experimental.enable_op_determinism()"

    def device_description(self) -> dict:
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if not gpus:
            return {"kind": "cpu", "name": "CPU"}
        details = tf.config.experimental.get_device_details(gpus[0])
        return {
            "kind": "gpu",
            "name": details.get("device_name", gpus[0].name),
            "cuda": tf.sysconfig.get_build_info().get("cuda_version"),
        }

    def peak_device_memory_mb(self) -> float | None:
        import tensorflow as tf

        if not tf.config.list_physical_devices("GPU"):
            return None
        return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20

    def seed_keras(self, seed: int) -> None:
        import keras

        keras.utils.set_random_seed(seed)  # also seeds TensorFlow itself, for tf.data

    def float32_matmul_default(self) -> dict:
        import tensorflow as tf

        enabled = tf.config.experimental.tensor_float_32_execution_enabled()
        return {"tensorflow_tf32_enabled_default": enabled, "backend_float32_matmuls": f"TensorFlow's TF32: {enabled}"}

    def keras_step_parts(self, model, x, y) -> StepParts:
        import tensorflow as tf

        weights = model.trainable_variables

        @tf.function
        def forward():
            return model.compute_loss(x=x, y=y, y_pred=model(x, training=True))

        @tf.function
        def gradients():
            with tf.GradientTape() as tape:
                loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=True))
            return tape.gradient(loss, weights)

        @tf.function
        def update(grads):
            model.optimizer.apply(grads, weights)

        def gradients_done():
            grads = gradients()
            grads[0].numpy()  # the first layer's gradient, the last backpropagation makes
            return grads

        # A host read of a result waits for the work behind it.
        return StepParts(lambda: forward().numpy(), gradients_done, lambda grads: (update(grads), weights[0].numpy()))


class Jax(Engine):
    name = "jax"

    def set_tf32(self, enabled: bool) -> str:
        import jax

        matmul = "tensorfloat32" if enabled else "highest"
        jax.config.update("jax_default_matmul_precision", matmul)
        return f"jax_default_matmul_precision={matmul!r}"

    def set_deterministic(self) -> str:
        return "XLA_FLAGS=--xla_gpu_deterministic_ops=true"  # set by the orchestrator before import

    def device_description(self) -> dict:
        import jax

        device = jax.devices()[0]
        kind = "gpu" if device.platform == "gpu" else "cpu"
        return {"kind": kind, "name": device.device_kind, "platform": device.platform}

    def peak_device_memory_mb(self) -> float | None:
        import jax

        device = jax.devices()[0]
        if device.platform != "gpu":
            return None
        return (device.memory_stats() or {}).get("peak_bytes_in_use", 0) / 2**20

    def float32_matmul_default(self) -> dict:
        import jax

        precision = str(jax.config.jax_default_matmul_precision)
        words = f"JAX's default matmul precision: {precision} (TF32 on Ampere+ GPUs)"
        return {"jax_default_matmul_precision": precision, "backend_float32_matmuls": words}

    def keras_step_parts(self, model, x, y) -> StepParts:
        import jax

        trainable = [v.value for v in model.trainable_variables]
        frozen = [v.value for v in model.non_trainable_variables]
        metrics = [v.value for v in model.metrics_variables]
        optimizer = [v.value for v in model.optimizer.variables]

        def loss_of(trainable, frozen):
            y_pred, frozen = model.stateless_call(trainable, frozen, x, training=True)
            loss, _ = model.stateless_compute_loss(trainable, frozen, metrics, x=x, y=y, y_pred=y_pred, training=True)
            return loss

        forward = jax.jit(loss_of)
        gradients = jax.jit(jax.grad(loss_of))
        update = jax.jit(lambda grads: model.optimizer.stateless_apply(optimizer, grads, trainable))
        return StepParts(
            lambda: forward(trainable, frozen).block_until_ready(),
            lambda: jax.block_until_ready(gradients(trainable, frozen)),
            lambda grads: jax.block_until_ready(update(grads)),
        )


class Torch(Engine):
    name = "torch"

    def set_tf32(self, enabled: bool) -> str:
        import torch

        torch.backends.cuda.matmul.allow_tf32 = enabled
        torch.backends.cudnn.allow_tf32 = enabled
        return f"torch.backends.cuda.matmul.allow_tf32={enabled}, torch.backends.cudnn.allow_tf32={enabled}"

    def set_deterministic(self) -> str:
        import torch

        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
        return "torch.use_deterministic_algorithms(True), cudnn.benchmark=False"

    def device_description(self) -> dict:
        import torch

        if torch.cuda.is_available():
            return {"kind": "gpu", "name": torch.cuda.get_device_name(0), "cuda": torch.version.cuda}
        return {"kind": "cpu", "name": "CPU", "threads": torch.get_num_threads()}

    def peak_device_memory_mb(self) -> float | None:
        import torch

        if not torch.cuda.is_available():
            return None
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() / 2**20

    def seed_keras(self, seed: int) -> None:
        import torch

        super().seed_keras(seed)
        torch.manual_seed(seed)  # Keras' torch backend draws its initializers from torch

    def runs_torch_compile(self, keras_jit_compile: bool | str) -> bool:
        return keras_jit_compile is True

    def float32_matmul_default(self) -> dict:
        return {"backend_float32_matmuls": "the torch backend's are torch's"}

    def synchronize(self) -> None:
        """Wait for the GPU's queued work; on the CPU every operation has finished when it returns."""
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()

    def keras_step_parts(self, model, x, y) -> StepParts:
        import torch

        weights = model.trainable_weights

        def forward():
            return float(model.compute_loss(x=x, y=y, y_pred=model(x, training=True)))  # a host read

        def gradients():
            model.zero_grad()
            model.compute_loss(x=x, y=y, y_pred=model(x, training=True)).backward()
            self.synchronize()
            return [v.value.grad for v in weights]

        def update(grads):
            with torch.no_grad():
                model.optimizer.apply(grads, weights)
            self.synchronize()

        return StepParts(forward, gradients, update)

    # torch.compile's own records, for the torch runner and for Keras' jit on torch.

    def dynamo_frames(self) -> int:
        """Frames torch.compile (Dynamo) has compiled in this process so far, recompilations included."""
        from torch._dynamo.utils import counters

        return counters["frames"]["ok"]

    def inductor_disk_cache(self) -> dict:
        """torch.compile's on-disk cache of compiled kernels (TORCHINDUCTOR_CACHE_DIR): where it
        is and how many files it holds now."""
        from torch._inductor.runtime.cache_dir_utils import cache_dir

        path = Path(cache_dir())
        return {"dir": str(path), "files": sum(1 for item in path.rglob("*") if item.is_file()) if path.is_dir() else 0}

    def disk_cache_state(self, at_start: dict) -> dict:
        """The disk cache as this run found it and what the run added: "empty" (nothing there),
        "cold" (the run compiled kernels the cache lacked) or "warm" (it found every one)."""
        written = self.inductor_disk_cache()["files"] - at_start["files"]
        state = "empty" if at_start["files"] == 0 else ("cold" if written > 0 else "warm")
        return {**at_start, "files_written": written, "state": state}

    def compilation_record(self, mode: str, recompiles: int, disk_cache_at_start: dict) -> dict:
        """What torch.compile did in this process: its mode, the graphs it made, the graph
        breaks (each splits a function into more graphs, with Python between them), the
        recompilations after the first training step, and its disk cache: as the run began,
        and what the run wrote to it."""
        from torch._dynamo.utils import counters

        return {
            "compiler": "torch.compile",
            "mode": mode,
            "disk_cache_at_start": self.disk_cache_state(disk_cache_at_start),
            "frames_compiled": counters["frames"]["ok"],
            "graphs": counters["stats"]["unique_graphs"],
            "graph_breaks": sum(counters["graph_break"].values()),
            "recompiles_after_first_step": recompiles,
        }


TORCH = Torch()  # also what torch.compile's records come from, in both families
ADAPTERS: dict[str, Engine] = {}  # made once per process, by engine()


def engine(name: str) -> Engine:
    """The adapter of engine `name`, as its catalog entry names it; an engine without one is an
    error that names it."""
    if name not in ADAPTERS:
        if name not in ENGINES:
            raise ValueError(
                f"no engine adapter for {name!r} (adapters: {', '.join(ENGINES)}); add its EngineFacts to "
                "compare/catalog/frameworks.py and its adapter to compare/run/engines.py"
            )
        module, class_name = ENGINES[name].adapter.split(":")
        ADAPTERS[name] = getattr(importlib.import_module(module), class_name)()
    return ADAPTERS[name]
