"""What differs per compute engine (TensorFlow, JAX, torch) and is not a model:
float32 matmul precision, device names and peak device memory.

Each function imports its engine inside, so a child imports only its own.
"""

from __future__ import annotations

from pathlib import Path


def set_precision(engine: str, precision: str) -> str:
    """Set how the engine computes float32 work ("fp32", "tf32" or "bf16", see
    compare.catalog.frameworks.PRECISIONS) and return the setting as recorded in the results.

    TF32's defaults differ: TensorFlow and JAX use it on Ampere+ GPUs unless told
    otherwise; torch's matmuls do not (its cuDNN convolutions do). bf16 keeps the float32
    work that remains (what autocast or the policy leave in float32) in full precision.
    The bf16 compute itself is the runner's: Keras' dtype policy, torch.autocast.
    """
    enabled = precision == "tf32"
    if engine == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_tensor_float_32_execution(enabled)
        setting = f"tf.config.experimental.enable_tensor_float_32_execution({enabled})"
    elif engine == "jax":
        import jax

        matmul = "tensorfloat32" if enabled else "highest"
        jax.config.update("jax_default_matmul_precision", matmul)
        setting = f"jax_default_matmul_precision={matmul!r}"
    else:
        import torch

        torch.backends.cuda.matmul.allow_tf32 = enabled
        torch.backends.cudnn.allow_tf32 = enabled
        setting = f"torch.backends.cuda.matmul.allow_tf32={enabled}, torch.backends.cudnn.allow_tf32={enabled}"
    return f"{precision}: {setting}"


def dynamo_frames() -> int:
    """Frames torch.compile (Dynamo) has compiled in this process so far, recompilations included."""
    from torch._dynamo.utils import counters

    return counters["frames"]["ok"]


def inductor_disk_cache() -> dict:
    """torch.compile's on-disk cache of compiled kernels (TORCHINDUCTOR_CACHE_DIR), as found
    now: with it empty, the first step compiles every kernel from scratch (a cold start)."""
    from torch._inductor.runtime.cache_dir_utils import cache_dir

    path = Path(cache_dir())
    files = sum(1 for item in path.rglob("*") if item.is_file()) if path.is_dir() else 0
    return {"dir": str(path), "files": files, "state": "warm" if files else "empty"}


def compilation_record(mode: str, recompiles: int, disk_cache_at_start: dict) -> dict:
    """What torch.compile did in this process: its mode, the graphs it made, the graph
    breaks (each splits a function into more graphs, with Python between them), the
    recompilations after the first training step, and its disk cache when the run began."""
    from torch._dynamo.utils import counters

    return {
        "compiler": "torch.compile",
        "mode": mode,
        "disk_cache_at_start": disk_cache_at_start,
        "frames_compiled": counters["frames"]["ok"],
        "graphs": counters["stats"]["unique_graphs"],
        "graph_breaks": sum(counters["graph_break"].values()),
        "recompiles_after_first_step": recompiles,
    }


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
            return {
                "kind": "gpu",
                "name": details.get("device_name", gpus[0].name),
                "cuda": tf.sysconfig.get_build_info().get("cuda_version"),
            }
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
