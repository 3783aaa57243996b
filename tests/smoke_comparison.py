"""The shared smoke comparison behind the `smoke_folder` fixture (tests/conftest.py): the MLP on the
five single-device frameworks, seed 0, with the checks.

It takes about a minute, and several tests on both workers read it. Built by the first test that
asked for it, it kept the other worker idle while it ran; so it starts in the background as the
session starts (`start`, when a collected test asks for it) and the tests wait only if they reach
it before it is done (`wait`). Its process is this module run as a script, which writes the
command's output and, last, its exit status, so any worker can tell when it is done.

    python -m tests.smoke_comparison FOLDER     # writes FOLDER/smoke, smoke.stdout, smoke.stderr, smoke.rc
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from filelock import FileLock

TIMEOUT_S = 900
ROOT = Path(__file__).resolve().parents[1]


def arguments(out: Path) -> list[str]:
    """The command line of the shared comparison, writing to `out`."""
    from compare.catalog.frameworks import default_frameworks

    frameworks = ",".join(default_frameworks(gpu_count=0))
    return ["--preset", "smoke", "--models", "mlp", "--frameworks", frameworks, "--device", "cpu", "--out", str(out)]


class SharedSmoke:
    """The comparison's files in `shared`, a folder every worker of the session sees."""

    def __init__(self, shared: Path) -> None:
        self.out = shared / "smoke"
        self.stdout, self.stderr = shared / "smoke.stdout", shared / "smoke.stderr"
        self.exit_status = shared / "smoke.rc"  # written last: the comparison is done once it exists
        self.started = shared / "smoke.started"
        self.lock = FileLock(str(shared / "smoke.lock"))

    def start(self) -> None:
        """Start the comparison in the background unless a worker already has."""
        with self.lock:
            if self.started.exists():
                return
            # Not a session of its own: Ctrl-C in the terminal stops it with the tests.
            subprocess.Popen(
                [sys.executable, "-m", "tests.smoke_comparison", str(self.out.parent)],
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            self.started.touch()

    def wait(self) -> Path:
        """The finished comparison's folder; fails with its output if it failed."""
        self.start()
        deadline = time.monotonic() + TIMEOUT_S
        while not self.exit_status.exists():
            assert time.monotonic() < deadline, f"the smoke comparison did not finish in {TIMEOUT_S} s"
            time.sleep(0.5)
        status = int(self.exit_status.read_text())
        assert status == 0, self.stdout.read_text()[-3000:] + self.stderr.read_text()[-3000:]
        return self.out

    def run(self) -> None:
        """The comparison itself (this module's script), its exit status written last and whole."""
        from tests.command import run_cli

        try:
            result = run_cli(*arguments(self.out), timeout=TIMEOUT_S)
            status, stdout, stderr = result.returncode, result.stdout, result.stderr
        except subprocess.TimeoutExpired as error:
            status, stdout, stderr = 124, "", f"{error}\n"
        self.stdout.write_text(stdout)
        self.stderr.write_text(stderr)
        partial = self.exit_status.with_suffix(".partial")
        partial.write_text(f"{status}\n")
        os.replace(partial, self.exit_status)


if __name__ == "__main__":
    SharedSmoke(Path(sys.argv[1])).run()
