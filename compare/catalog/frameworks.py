"""The frameworks a model can run on, and whether each is installed here: six on
one device (five in the default comparison), and two that train data-parallel over several.

Nothing here imports a framework: availability is read with `find_spec`, so
the orchestrator stays fast and leaves every backend free for its children.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass


@dataclass(frozen=True)
class Framework:
    name: str
    family: str  # "keras" or "torch": which runner trains it
    keras_backend: str | None = None  # KERAS_BACKEND for the child
    torch_compile: bool = False  # plain torch: the training step through torch.compile
    keras_jit_compile: bool = False  # Keras: compile(jit_compile=True) whatever --jit-compile says
    # Data parallel over every local device: Keras' DataParallel distribution, or
    # torch DistributedDataParallel with one process per device (torchrun).
    data_parallel: bool = False
    single_device_twin: str | None = None  # the run a data-parallel run must match
    install_hint: str = ""
    # In the default comparison; keras-torch-jit is named to run: its compilation costs
    # 20-70 s per model on a CPU, more than the rest of a default run.
    by_default: bool = True

    @property
    def modules(self) -> tuple[str, ...]:
        """Top-level modules the run imports."""
        if self.family == "keras":
            return ("keras", self.keras_backend)
        return ("torch",)

    def missing_modules(self) -> list[str]:
        return [m for m in self.modules if importlib.util.find_spec(m) is None]


FRAMEWORKS: dict[str, Framework] = {
    fw.name: fw
    for fw in (
        Framework(
            "keras-tensorflow",
            "keras",
            "tensorflow",
            install_hint="pip install tensorflow-cpu (CPU) or 'tensorflow[and-cuda]' (GPU)",
        ),
        Framework("keras-jax", "keras", "jax", install_hint="pip install jax (CPU) or 'jax[cuda12]' (GPU)"),
        Framework("keras-torch", "keras", "torch", install_hint="pip install torch"),
        # Keras' own compiled route on torch: its trainer hands the train step to torch.compile.
        Framework(
            "keras-torch-jit",
            "keras",
            "torch",
            keras_jit_compile=True,
            install_hint="pip install torch",
            by_default=False,
        ),
        Framework("torch", "torch", install_hint="pip install torch"),
        Framework("torch-compile", "torch", torch_compile=True, install_hint="pip install torch"),
        Framework(
            "keras-jax-dp",
            "keras",
            "jax",
            data_parallel=True,
            single_device_twin="keras-jax",
            install_hint="pip install jax (CPU) or 'jax[cuda12]' (GPU)",
        ),
        Framework(
            "torch-ddp", "torch", data_parallel=True, single_device_twin="torch", install_hint="pip install torch"
        ),
    )
}


def default_frameworks(gpu_count: int) -> list[str]:
    """Every framework that runs by default, leaving out the data-parallel ones unless
    there are GPUs for them to spread over (on a CPU they are a correctness check: name them)."""
    return [name for name, fw in FRAMEWORKS.items() if fw.by_default and (not fw.data_parallel or gpu_count > 1)]


# How float32 models compute, set the same way in every framework (compare.run.backends):
# fp32 in full precision; tf32 lets matmuls and convolutions round their inputs to
# TF32 on Ampere+ GPUs; bf16 is mixed precision, float32 variables and bfloat16 compute
# (Keras' "mixed_bfloat16" policy, torch.autocast(dtype=torch.bfloat16)).
PRECISIONS = ("fp32", "tf32", "bf16")
# torch.compile's modes for torch-compile: reduce-overhead replays CUDA graphs (on a GPU),
# max-autotune-no-cudagraphs benchmarks kernel choices at compile time.
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune-no-cudagraphs")
