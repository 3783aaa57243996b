"""torch's adapter, for both families: TF32, determinism, the device, Keras' step in parts, and
torch.compile's own records (for the torch runner and for Keras' jit on torch)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from compare.run.engines.base import Engine, StepParts
from compare.run.engines.routes import KERAS_OPENVINO, Route, keras_export


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

    def keras_routes(self) -> list[Route]:
        # Keras on torch exports with every dimension fixed (its ONNX exporter does not take a free
        # batch size on this backend, and its OpenVINO and torch routes trace at the batch given).
        fixed = [
            Route("onnx", "onnxruntime", "model.onnx", keras_export("onnx"), fixed_batch=True),
            Route("torch.export", "torch", "model.pt2", keras_export("torch"), fixed_batch=True),
        ]
        return [*fixed, dataclasses.replace(KERAS_OPENVINO, fixed_batch=True)]

    def torch_routes(self) -> list[Route]:
        """A torch module's ways out, each with a free batch size: torch.export's ExportedProgram
        (.pt2), ONNX through the same exporter (dynamo=True), and OpenVINO's own converter."""
        return [
            Route("torch.export", "torch", "model.pt2", export_program),
            Route("onnx", "onnxruntime", "model.onnx", export_onnx),
            Route("openvino", "openvino", "model.xml", export_openvino),
        ]


def example_and_shapes(input_shape: tuple[int | None, ...]):
    """An example input, and torch.export's `dynamic_shapes` leaving the batch free (None: the shape is
    fixed). The example has 2 samples when the batch is free: torch.export specializes a size of 1."""
    import torch

    if input_shape[0] is not None:
        return torch.zeros(input_shape), None
    return torch.zeros((2, *input_shape[1:])), ({0: torch.export.Dim("batch", min=1, max=4096)},)


def export_program(module, input_shape: tuple[int | None, ...], path: Path) -> None:
    import torch

    example, shapes = example_and_shapes(input_shape)
    torch.export.save(torch.export.export(module.eval(), (example,), dynamic_shapes=shapes), str(path))


def export_onnx(module, input_shape: tuple[int | None, ...], path: Path) -> None:
    import torch

    example, shapes = example_and_shapes(input_shape)
    torch.onnx.export(module.eval(), (example,), dynamo=True, dynamic_shapes=shapes, verbose=False).save(str(path))


def export_openvino(module, input_shape: tuple[int | None, ...], path: Path) -> None:
    import openvino

    example, _ = example_and_shapes(input_shape)
    converted = openvino.convert_model(module.eval(), example_input=example)
    openvino.save_model(converted, str(path), compress_to_fp16=False)  # its default halves the weights


TORCH = Torch()  # also what torch.compile's records come from, in both families
