"""Live progress, what crosses the pipe: a worker tells the parent where its run is.

The parent opens a pipe and passes its write end to the child (the file
descriptor's number is in PROGRESS_FD). The child writes one JSON line per
event: throttled step events and one line at the end of each epoch. The parent
reads them while it waits and draws them (compare.harness.display). Progress never
goes into results: it only describes where a run is, and the result says what it measured.

Pure Python: both sides import it, neither needs a framework.
"""

from __future__ import annotations

import enum
import json
import os
import time
from collections.abc import Callable
from typing import TextIO

PROGRESS_FD = "KERAS_TORCH_COMPARE_PROGRESS_FD"
STEP_INTERVAL_S = 0.5  # at most two step events a second: the pipe never slows a step


class EventKind(enum.StrEnum):
    """An event's `kind`: where in a run it was sent."""

    STEP = "step"  # during an epoch, throttled
    EPOCH = "epoch"  # after an epoch's evaluation, with its test accuracy


class Reporter:
    """The child's side: sends events to the parent's pipe, or nowhere without one."""

    def __init__(self, epochs: int, steps_per_epoch: int):
        self.epochs, self.steps_per_epoch = epochs, steps_per_epoch
        self.stream = open_pipe(os.environ.get(PROGRESS_FD))
        self.last_sent = 0.0

    def wants_step(self) -> bool:
        """Whether a step event is due: read the running figures only when it is."""
        return self.stream is not None and time.monotonic() - self.last_sent >= STEP_INTERVAL_S

    def step(self, epoch: int, step: int, loss: float, accuracy: float) -> None:
        """After `step` (1-based) of `epoch` (1-based); loss and accuracy are the epoch's running means."""
        self.last_sent = time.monotonic()
        self.send(kind=EventKind.STEP, epoch=epoch, step=step, loss=loss, accuracy=accuracy)

    def epoch_end(self, record: dict) -> None:
        """After an epoch's evaluation: `record` is its history entry."""
        self.send(
            kind=EventKind.EPOCH,
            epoch=record["epoch"],
            step=self.steps_per_epoch,
            loss=record["train_loss"],
            accuracy=record["train_accuracy"],
            test_accuracy=record["test_accuracy"],
        )

    def send(self, **event) -> None:
        if self.stream is None:
            return
        event.update(epochs=self.epochs, steps_per_epoch=self.steps_per_epoch)
        try:
            self.stream.write(json.dumps(event) + "\n")
            self.stream.flush()
        except (OSError, ValueError):  # the parent went away: the run itself goes on
            self.stream = None


def open_pipe(fd: str | None) -> TextIO | None:
    if not fd:
        return None
    try:
        os.set_inheritable(int(fd), False)  # this process's alone: no helper it starts holds the pipe open
        return os.fdopen(int(fd), "w", buffering=1)
    except (OSError, ValueError):  # not passed down (torchrun's children): no progress
        return None


EventHandler = Callable[[dict], None]
