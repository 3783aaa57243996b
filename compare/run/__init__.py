"""The child process: one framework's worker (`python -m compare.run.worker JOB.json`), its
runner (compare.run.keras_runner or compare.run.torch_runner, twins of each other), and
what both share: timing, backends' precision settings, the recipes the lessons reuse.

Nothing is imported here: importing `compare.run` loads no framework, and each worker
imports only its own runner.
"""
