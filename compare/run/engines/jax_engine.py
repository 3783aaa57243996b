"""JAX's adapter: the matmul precision, the device, Keras' step in parts with jax.jit."""

from __future__ import annotations

from compare.run.engines.base import Engine, StepParts
from compare.run.engines.routes import KERAS_ONNX, KERAS_OPENVINO, KERAS_SAVED_MODEL, Route


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

    def keras_routes(self) -> list[Route]:
        # ONNX through jax2onnx, straight from the JAX program; JAX has no serving format of its
        # own, so Keras writes a TensorFlow SavedModel through jax2tf (TensorFlow must be installed).
        return [KERAS_ONNX, KERAS_SAVED_MODEL, KERAS_OPENVINO]
