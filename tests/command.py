"""The command line as a user runs it: `python -m compare ...` in a child process."""

import subprocess
import sys


def run_cli(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "compare", *args], capture_output=True, text=True, timeout=timeout)


def smoke_cli(models: str, frameworks: str, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """The smoke preset (8 steps on 512 sample digits) for `models` on `frameworks`."""
    return run_cli("--preset", "smoke", "--models", models, "--frameworks", frameworks, *args, timeout=timeout)
