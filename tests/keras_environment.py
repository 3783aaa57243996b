"""The environment of a child process that runs Keras on one backend to check what it computes.

Such a child checks shapes, parity within 1e-4 and files, not speed. On JAX, which compiles every
program (each eager op included) with XLA, it compiles with XLA's backend optimizations and its
new CPU fusion emitters off; every tolerance still holds. The Keras suite on JAX, 2-core AMD EPYC:
128 s with the optimizations off, 83 s with the emitters off as well (XLA's own compile time in
it: 74 s against 32 s). TensorFlow saved nothing from the same flags. Comparisons, notebooks and
`check` keep XLA's defaults: what they time is what a user gets.
"""

import os

QUICK_XLA = {
    "jax": "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true "
    "--xla_cpu_use_fusion_emitters=false"
}


def keras_environment(backend: str) -> dict[str, str]:
    """This process's environment with KERAS_BACKEND=`backend`, TensorFlow's log quiet, XLA quick."""
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    xla_flags = f"{os.environ.get('XLA_FLAGS', '')} {QUICK_XLA.get(backend, '')}".strip()
    if xla_flags:
        env["XLA_FLAGS"] = xla_flags
    return env
