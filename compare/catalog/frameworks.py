"""The frameworks a model can run on, and whether each is installed here: six on
one device (five in the default comparison), and two that train data-parallel over several.

Nothing here imports a framework: availability is read with `find_spec`, so
the orchestrator stays fast and leaves every backend free for its children.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from compare.catalog.extensions import import_named_modules


@dataclass(frozen=True)
class Family:
    """One implementation of the four models, and how it trains: its twins' package, the
    runner that trains them (a module with `run(spec, data, model_spec, framework, phases)`),
    and how it spreads over several devices."""

    name: str
    models: str  # the package of its twins: keras_models, torch_models
    runner: str  # the module that trains them, in the worker
    imports: tuple[str, ...]  # top-level modules a run needs besides its engine
    sets_keras_backend: bool  # KERAS_BACKEND names the engine before the child imports Keras
    # Data parallel: one process per device under torchrun (DDP), or one process over every
    # device (Keras' DataParallel distribution); with a process per device, each
    # BatchNorm normalizes by its device's share of the batch.
    process_per_device: bool
    channels_last: bool  # images as (B, H, W, C), Keras' default; torch's are (B, C, H, W)


KERAS = Family("keras", "keras_models", "compare.run.keras_runner", ("keras",), True, False, channels_last=True)
TORCH = Family("torch", "torch_models", "compare.run.torch_runner", (), False, True, channels_last=False)


@dataclass(frozen=True)
class EngineFacts:
    """What an engine is, with no framework imported: the module it computes with, what
    KERAS_BACKEND names for Keras on it, the distributions whose versions every results record
    holds, and its adapter: the class (compare.run.engines.Engine) that holds what needs the
    engine imported, loaded only in the child that runs it."""

    name: str  # what results record as the run's engine
    module: str  # the top-level module it imports
    keras_backend: str  # KERAS_BACKEND for a Keras framework on it
    distributions: tuple[str, ...]
    adapter: str  # "package.module:Class"


# In the order a Keras backend is picked when one will do (a comparison's checks, reading a user's
# twins): torch's starts quickest, and the checks need torch anyway.
ENGINES: dict[str, EngineFacts] = {
    facts.name: facts
    for facts in (
        EngineFacts("torch", "torch", "torch", ("torch",), "compare.run.engines.torch_engine:Torch"),
        EngineFacts("jax", "jax", "jax", ("jax", "jaxlib"), "compare.run.engines.jax_engine:Jax"),
        # one of tensorflow and tensorflow-cpu is installed
        EngineFacts(
            "tensorflow",
            "tensorflow",
            "tensorflow",
            ("tensorflow", "tensorflow-cpu"),
            "compare.run.engines.tensorflow_engine:TensorFlow",
        ),
        # Keras' two backends that only infer: they serve trained weights (`python -m compare deploy`).
        EngineFacts("numpy", "numpy", "numpy", (), "compare.run.engines.inference_only:NumPy"),
        EngineFacts("openvino", "openvino", "openvino", ("openvino",), "compare.run.engines.inference_only:OpenVINO"),
    )
}


@dataclass(frozen=True)
class Framework:
    name: str
    family: Family  # which twins, and which runner trains them
    engine: str  # the compute engine, a key of compare.run.engines.ENGINES: "tensorflow", "jax", "torch"
    torch_compile: bool = False  # plain torch: the training step through torch.compile
    keras_jit_compile: bool = False  # Keras: compile(jit_compile=True) whatever --jit-compile says
    # Data parallel over every local device: Keras' DataParallel distribution, or
    # torch DistributedDataParallel with one process per device (torchrun).
    data_parallel: bool = False
    single_device_twin: str | None = None  # the run a data-parallel run must match
    install_hint: str = ""
    # In the default comparison; keras-torch-jit is named to run: its compilation takes
    # longer than the rest of a default run on a CPU (see the README).
    by_default: bool = True

    # Trains in a comparison; an inference-only engine (Keras' numpy or openvino backend) does not.
    trains: bool = True

    @property
    def keras_backend(self) -> str | None:
        """KERAS_BACKEND for the child, for a Keras framework."""
        return ENGINES[self.engine].keras_backend if self.family.sets_keras_backend else None

    @property
    def modules(self) -> tuple[str, ...]:
        """Top-level modules the run imports."""
        return (*self.family.imports, ENGINES[self.engine].module)

    def missing_modules(self) -> list[str]:
        return [m for m in self.modules if importlib.util.find_spec(m) is None]


FRAMEWORKS: dict[str, Framework] = {
    fw.name: fw
    for fw in (
        Framework(
            "keras-tensorflow",
            KERAS,
            "tensorflow",
            install_hint="pip install tensorflow-cpu (CPU) or 'tensorflow[and-cuda]' (GPU)",
        ),
        Framework("keras-jax", KERAS, "jax", install_hint="pip install jax (CPU) or 'jax[cuda12]' (GPU)"),
        Framework("keras-torch", KERAS, "torch", install_hint="pip install torch"),
        # Keras' own compiled route on torch: its trainer hands the train step to torch.compile.
        Framework(
            "keras-torch-jit",
            KERAS,
            "torch",
            keras_jit_compile=True,
            install_hint="pip install torch",
            by_default=False,
        ),
        Framework("torch", TORCH, "torch", install_hint="pip install torch"),
        Framework("torch-compile", TORCH, "torch", torch_compile=True, install_hint="pip install torch"),
        Framework(
            "keras-jax-dp",
            KERAS,
            "jax",
            data_parallel=True,
            single_device_twin="keras-jax",
            install_hint="pip install jax (CPU) or 'jax[cuda12]' (GPU)",
        ),
        Framework(
            "torch-ddp",
            TORCH,
            "torch",
            data_parallel=True,
            single_device_twin="torch",
            install_hint="pip install torch",
        ),
        # Inference only: they load a run's trained weights and serve them, in `deploy`.
        Framework("keras-numpy", KERAS, "numpy", install_hint="pip install keras", by_default=False, trains=False),
        Framework(
            "keras-openvino", KERAS, "openvino", install_hint="pip install openvino", by_default=False, trains=False
        ),
    )
}


def register_engine(facts: EngineFacts) -> None:
    """Add an engine to the catalog (its adapter is loaded where a run needs it)."""
    if facts.name in ENGINES:
        raise ValueError(f"an engine named {facts.name!r} is in the catalog already; choose another name")
    ENGINES[facts.name] = facts


def register_framework(framework: Framework) -> None:
    """Add a framework to the catalog, on an engine the catalog has."""
    if framework.name in FRAMEWORKS:
        raise ValueError(f"a framework named {framework.name!r} is in the catalog already; choose another name")
    if framework.engine not in ENGINES:
        raise ValueError(
            f"framework {framework.name!r} runs on engine {framework.engine!r}, which the catalog lacks "
            f"(engines: {', '.join(ENGINES)}); register_engine it first"
        )
    FRAMEWORKS[framework.name] = framework


# Engines and frameworks from outside the project: modules that call register_engine and
# register_framework (compare.catalog.extensions).
EXTRA_ENGINES = "KERAS_TORCH_COMPARE_ENGINES"
import_named_modules(EXTRA_ENGINES)


# Plain PyTorch: it makes the shared initial weights, its twins are the checks' reference, and every
# ratio in a report is to it.
REFERENCE = "torch"


def keras_framework(backend: str) -> str:
    """The framework that trains Keras on `backend` on one device, without jit_compile forced."""
    return next(
        name
        for name, fw in FRAMEWORKS.items()
        if fw.keras_backend == backend and not fw.keras_jit_compile and not fw.data_parallel
    )


def keras_backends() -> list[str]:
    """Every engine a Keras framework of the catalog trains on, in catalog order (what `check` and the
    Keras suite run on: the one-step parity needs training)."""
    return list(dict.fromkeys(fw.keras_backend for fw in FRAMEWORKS.values() if fw.keras_backend and fw.trains))


def serving_frameworks() -> list[str]:
    """The frameworks that do not train: Keras' inference-only backends, which `deploy` serves with."""
    return [name for name, fw in FRAMEWORKS.items() if not fw.trains]


def default_frameworks(gpu_count: int) -> list[str]:
    """Every framework that runs by default, leaving out the data-parallel ones unless
    there are GPUs for them to spread over (on a CPU they are a correctness check: name them)."""
    return [
        name
        for name, fw in FRAMEWORKS.items()
        if fw.by_default and fw.trains and (not fw.data_parallel or gpu_count > 1)
    ]


# How float32 models compute, set the same way in every framework (compare.run.engines), and the
# words the command line and the report use for each: tf32 lets matmuls and convolutions round their
# inputs to TF32 on Ampere+ GPUs.
PRECISIONS = {
    "fp32": "float32 in full precision everywhere (TF32 off)",
    "tf32": "float32 variables, TF32 matmuls and convolutions on Ampere+ GPUs",
    "bf16": "mixed precision: float32 variables, bfloat16 compute (Keras' mixed_bfloat16 policy, torch.autocast)",
}
# torch.compile's modes for torch-compile: reduce-overhead replays CUDA graphs (on a GPU),
# max-autotune-no-cudagraphs benchmarks kernel choices at compile time.
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune-no-cudagraphs")
