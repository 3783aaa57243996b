"""What differs per compute engine (TensorFlow, JAX, torch) and is not a model:
float32 matmul precision, device names and peak device memory.

Each function imports its engine inside, so a child imports only its own.
"""

from __future__ import annotations

def set_tf32(engine: str, enabled: bool) -> str:
    """Make float32 matmuls/convolutions use TF32 (or not) on Ampere+ GPUs.

    The defaults differ: TensorFlow and JAX use TF32 on such GPUs unless told
    otherwise; torch's matmuls do not (its cuDNN convolutions do). Returns the
    setting as recorded in the results.
    """
    if engine == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_tensor_float_32_execution(enabled)
        return f"tf.config.experimental.enable_tensor_float_32_execution({enabled})"
    if engine == "jax":
        import jax

        precision = "tensorfloat32" if enabled else "highest"
        jax.config.update("jax_default_matmul_precision", precision)
        return f"jax_default_matmul_precision={precision!r}"
    import torch

    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled
    return f"torch.backends.cuda.matmul.allow_tf32={enabled}, torch.backends.cudnn.allow_tf32={enabled}"


def set_deterministic(engine: str) -> str:
    """Ask the engine for deterministic kernels (the environment variables that
    must be set before import come from the orchestrator). Returns what was set."""
    if engine == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
        return "tf.config.experimental.enable_op_determinism()"
    if engine == "jax":
        return "XLA_FLAGS=--xla_gpu_deterministic_ops=true"
    import torch

    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    return "torch.use_deterministic_algorithms(True), cudnn.benchmark=False"


def device_description(engine: str) -> dict:
    """The device the engine computes on, by the engine's own account."""
    if engine == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            return {"kind": "gpu", "name": details.get("device_name", gpus[0].name),
                    "cuda": tf.sysconfig.get_build_info().get("cuda_version")}
        return {"kind": "cpu", "name": "CPU"}
    if engine == "jax":
        import jax

        device = jax.devices()[0]
        kind = "gpu" if device.platform == "gpu" else "cpu"
        return {"kind": kind, "name": device.device_kind, "platform": device.platform}
    import torch

    if torch.cuda.is_available():
        return {"kind": "gpu", "name": torch.cuda.get_device_name(0), "cuda": torch.version.cuda}
    return {"kind": "cpu", "name": "CPU", "threads": torch.get_num_threads()}


def peak_device_memory_mb(engine: str) -> float | None:
    """Peak bytes held by the engine's GPU allocator, in MiB; None on the CPU."""
    if engine == "tensorflow":
        import tensorflow as tf

        if not tf.config.list_physical_devices("GPU"):
            return None
        return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
    if engine == "jax":
        import jax

        device = jax.devices()[0]
        if device.platform != "gpu":
            return None
        return (device.memory_stats() or {}).get("peak_bytes_in_use", 0) / 2**20
    import torch

    if not torch.cuda.is_available():
        return None
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() / 2**20
