"""One writer per results folder.

A comparison holds an exclusive lock on its `--out` folder from before its first
write until it ends, so a second comparison (a `--resume` included) cannot
interleave its runs and its timings with the first's. The lock is the
operating system's (`filelock`, an flock on Linux and macOS): it dies with the
process that holds it, SIGKILL and crashes included, so it never outlives its
holder. Beside it, a small JSON file names the holder; finding that file under
a free lock means the last holder ended without releasing it, and the message
says the lock was taken over.
"""

from __future__ import annotations

import datetime
import json
import os
import socket
import sys
from pathlib import Path

import filelock

from compare.harness.arguments import UsageError

LOCK_NAME = ".comparison.lock"
HOLDER_NAME = ".comparison.lock.holder.json"


class FolderBusy(Exception):
    """Another live process holds the folder; the message names it."""


class FolderLock:
    """Holds `folder` for this process between `acquire()` and `release()`.

    `took_over` describes the holder whose lock was left behind, if any.
    """

    def __init__(self, folder: Path):
        self.folder = folder
        self.lock = filelock.FileLock(str(folder / LOCK_NAME), timeout=0)
        self.holder_path = folder / HOLDER_NAME
        self.took_over: str | None = None

    def acquire(self) -> FolderLock:
        try:
            self.lock.acquire()
        except filelock.Timeout:
            raise FolderBusy(
                f"{self.folder} is being written by another comparison: {self.describe_holder()}. "
                f"Wait for it to finish (or stop it), or choose another --out folder."
            ) from None
        if self.holder_path.exists():  # the lock was free, yet its last holder never said goodbye
            self.took_over = (
                f"took over the lock of {self.folder} left by {self.describe_holder()}, which is no "
                f"longer running (crashed or killed); its finished runs are kept"
            )
        write_holder(self.holder_path)
        return self

    def release(self) -> None:
        self.holder_path.unlink(missing_ok=True)
        self.lock.release()

    def describe_holder(self) -> str:
        try:
            holder = json.loads(self.holder_path.read_text())
            return f"process {holder['pid']} on {holder['host']}, started {holder['started']} ({holder['command']})"
        except (OSError, ValueError, KeyError):
            return "a process that has not yet named itself"


def write_holder(path: Path) -> None:
    """Name this process beside the lock, atomically (a reader never sees half of it)."""
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.datetime.now().isoformat(timespec="seconds"),
        "command": " ".join(["python -m compare", *sys.argv[1:]]),
    }
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(holder))
    os.replace(tmp, path)


def claim_folder(path: Path) -> FolderLock:
    """Create `path` and lock it: one comparison writes a results folder at a time."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        lock = FolderLock(path).acquire()  # creating the lock file also shows that `path` is writable
    except FolderBusy as busy:
        raise UsageError(str(busy)) from None
    except OSError as error:
        raise UsageError(
            f"cannot write the results folder {path}: {error.strerror}. Choose another with --out."
        ) from None
    if lock.took_over:
        print(f"Note: {lock.took_over}.", file=sys.stderr)
    return lock
