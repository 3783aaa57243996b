"""Starting, watching and stopping the child processes: the environment a framework's child
starts with, and a `Supervisor` that knows every child it started, so that Ctrl-C or SIGTERM
stops them all, each with its whole process group. Imports no framework.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from compare.catalog.frameworks import ENGINES, FRAMEWORKS
from compare.contract.progress import EventHandler

OUTPUT_TAIL_CHARS = 3000


def child_environment(framework: str, device: str, deterministic: bool = False, devices: int = 1) -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    spec = FRAMEWORKS[framework]
    # Keras on the child's own engine: a Keras framework's backend. A torch child imports Keras only
    # through a user's twins file, which names both classes; on the torch backend that adds no second
    # framework (Keras' default, TensorFlow, added 3 s to each such child).
    env["KERAS_BACKEND"] = ENGINES[spec.engine].keras_backend
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""  # hide GPUs from every framework
        env["JAX_PLATFORMS"] = "cpu"
        if spec.data_parallel and not spec.family.process_per_device:
            # JAX shows one CPU device unless told to split the host into several.
            env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={devices}").strip()
        if spec.data_parallel and spec.family.process_per_device:
            env["GLOO_SOCKET_IFNAME"] = "lo"  # gloo on the loopback interface only
            env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // devices))  # share the cores
    else:
        if spec.data_parallel:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, range(devices)))
        env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"  # JAX would take 75% of the GPU
        env["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"  # TensorFlow would take all of it
    if deterministic:
        env["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"  # torch's deterministic cuBLAS needs it
        env["TF_DETERMINISTIC_OPS"] = "1"
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_gpu_deterministic_ops=true").strip()
    return env


def tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-OUTPUT_TAIL_CHARS:]
    except OSError:
        return ""


def stop_process_group(process: subprocess.Popen) -> None:
    """SIGTERM the child and everything it started, then SIGKILL what is left."""
    for sig, grace_s in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace_s)
            return
        except subprocess.TimeoutExpired:
            continue


def exit_reason(returncode: int) -> str:
    if returncode < 0:
        name = signal.Signals(-returncode).name
        hint = " (the out-of-memory killer sends SIGKILL)" if name == "SIGKILL" else ""
        return f"the worker was killed by {name}{hint}"
    return f"the worker exited with status {returncode} without writing a result"


class Supervisor:
    """The children one comparison (or one command) started and has not yet seen end."""

    def __init__(self) -> None:
        self.live: set[subprocess.Popen] = set()
        self.lock = threading.Lock()
        self.stopping = threading.Event()  # set by stop_all: a child that starts after it is stopped at once

    def start(
        self,
        module: list[str],
        args: list[str],
        env: dict[str, str],
        log_path: Path,
        pass_fds: tuple[int, ...] = (),
        cpus: tuple[int, ...] | None = None,
    ) -> subprocess.Popen:
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                [*module, *args],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group, so a timeout kills all of it
                pass_fds=pass_fds,
            )
        if cpus is not None:
            # Set at once, while the new interpreter has one thread: every thread and process it starts inherits it.
            os.sched_setaffinity(process.pid, cpus)
        with self.lock:
            self.live.add(process)
            stopping = self.stopping.is_set()
        if stopping:  # it started in a thread while Ctrl-C was stopping the others
            stop_process_group(process)
        return process

    def wait(self, process: subprocess.Popen, timeout_s: float, events: EventReader | None = None) -> bool:
        """Wait for the child, handing on its progress events; False (after stopping it) if it
        outlives `timeout_s`. Blocks without polling: a timer thread fires once, at the deadline."""
        try:
            return wait_child(process, timeout_s, events)
        finally:
            with self.lock:
                self.live.discard(process)

    def stop_all(self) -> None:
        """Stop every child still running (Ctrl-C, SIGTERM): each one's whole process group."""
        with self.lock:
            self.stopping.set()
            children = list(self.live)
        for process in children:
            stop_process_group(process)


class EventReader:
    """Reads the child's progress events (JSON lines) from a pipe, in a thread of its
    own that sleeps in a blocking read until the child writes: the parent never
    polls, so it never wakes on a timer and takes a core from the child (polling made
    some CPU inference calls in the child far slower on a machine with few cores)."""

    def __init__(self, fd: int, on_event: EventHandler):
        self.fd, self.on_event = fd, on_event
        self.thread = threading.Thread(target=self.read_until_closed, daemon=True)

    def read_until_closed(self) -> None:
        pending = b""
        while chunk := os.read(self.fd, 65536):  # b"" once the child has exited
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    continue  # progress is best effort: a garbled line is skipped
                self.on_event(event)


def wait_child(process: subprocess.Popen, timeout_s: float, events: EventReader | None = None) -> bool:
    """Wait for the child, handing on its progress events; False (after stopping
    it) if it outlives `timeout_s`. Blocks without polling: a timer thread fires
    once, at the deadline."""
    timed_out = threading.Event()

    def stop_at_deadline() -> None:
        timed_out.set()
        stop_process_group(process)

    timer = threading.Timer(max(timeout_s, 0), stop_at_deadline)
    timer.daemon = True
    timer.start()
    if events is not None:
        events.thread.start()
    try:
        process.wait()
    except BaseException:  # Ctrl-C or SIGTERM: take the child down too
        stop_process_group(process)
        raise
    finally:
        timer.cancel()
    if events is not None:
        events.thread.join(timeout=5)  # the last events, up to the pipe's end
    return not timed_out.is_set()


def python_module(name: str) -> list[str]:
    return [sys.executable, "-m", name]
