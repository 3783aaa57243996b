"""Keras' two backends that only infer, NumPy and OpenVINO: they train nothing, set no precision
and have no export route; what they answer is what a results record holds of the engine."""

from __future__ import annotations

from compare.run.engines.base import Engine


class InferenceOnly(Engine):
    def set_tf32(self, enabled: bool) -> str:
        return "float32 throughout (no TF32 on this engine)"

    def set_deterministic(self) -> str:
        return "deterministic: it runs no parallel reductions of its own"

    def device_description(self) -> dict:
        return {"kind": "cpu", "name": "CPU"}

    def peak_device_memory_mb(self) -> float | None:
        return None

    def float32_matmul_default(self) -> dict:
        return {"backend_float32_matmuls": f"{self.name}: float32"}


class NumPy(InferenceOnly):
    name = "numpy"


class OpenVINO(InferenceOnly):
    name = "openvino"
