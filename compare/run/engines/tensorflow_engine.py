"""TensorFlow's adapter: TF32, determinism, the device, Keras' step in parts with tf.function."""

from __future__ import annotations

from compare.run.engines.base import Engine, StepParts
from compare.run.engines.routes import KERAS_ONNX, KERAS_OPENVINO, KERAS_SAVED_MODEL, Route


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

    def keras_routes(self) -> list[Route]:
        # ONNX through tf2onnx from the model's tf.function; SavedModel, TensorFlow Serving's format.
        return [KERAS_ONNX, KERAS_SAVED_MODEL, KERAS_OPENVINO]
