"""The parent's terminal display of live progress: progress bars in a terminal, one plain
line per epoch otherwise (CI logs, files), and an estimate of the time left. It draws the
events that arrive through the pipe (compare.contract.progress). Pure Python and tqdm.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from compare.contract.progress import EventHandler, EventKind


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = max(0, round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class Estimate:
    """Time left in a comparison: each job not yet done is expected to take as long as
    the finished runs of its model did (or, before any has, the finished runs' mean)."""

    def __init__(self, models: list[str]):
        self.pending = list(models)  # one entry per job, in order
        self.walls: dict[str, list[float]] = {}

    def start(self) -> None:
        self.pending.pop(0)

    def finished(self, model: str, wall_s: float) -> None:
        self.walls.setdefault(model, []).append(wall_s)

    def left_s(self, current_left_s: float = 0.0) -> float | None:
        every = [wall for walls in self.walls.values() for wall in walls]
        if not every:
            return None
        overall = sum(every) / len(every)
        expected = [sum(self.walls[m]) / len(self.walls[m]) if m in self.walls else overall for m in self.pending]
        return sum(expected) + current_left_s


class RunProgress:
    """One run's position, from its events: steps done, rate, time left."""

    def __init__(self):
        self.started = time.monotonic()
        self.event: dict | None = None

    def update(self, event: dict) -> None:
        if self.event is None:  # the first event comes after compilation: time the rate from here
            self.first = (time.monotonic(), self.steps_done(event))
        self.event = event

    @staticmethod
    def steps_done(event: dict) -> int:
        return (event["epoch"] - 1) * event["steps_per_epoch"] + event["step"]

    def total_steps(self) -> int | None:
        return self.event["epochs"] * self.event["steps_per_epoch"] if self.event else None

    def left_s(self) -> float | None:
        if self.event is None:
            return None
        (then, done_then), done = self.first, self.steps_done(self.event)
        if done <= done_then:
            return None
        rate = (time.monotonic() - then) / (done - done_then)
        return rate * (self.total_steps() - done)

    def describe(self) -> str:
        e = self.event
        text = (
            f"epoch {e['epoch']}/{e['epochs']}, step {e['step']}/{e['steps_per_epoch']}, "
            f"loss {e['loss']:.4f}, acc {e['accuracy']:.2%}"
        )
        if e["kind"] == EventKind.EPOCH:
            text += f", test acc {e['test_accuracy']:.2%}"
        return text


class PlainDisplay:
    """One line per run and per epoch: for logs and files, where bars would be noise."""

    def __init__(self, total_runs: int, models: list[str], out: TextIO = sys.stdout):
        self.total, self.out = total_runs, out
        self.estimate = Estimate(models)
        self.done = 0
        self.run: RunProgress | None = None
        self.indent = " " * (2 * len(str(total_runs)) + 4)

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def run_started(self, number: int, label: str, where: str = "") -> None:
        self.estimate.start()
        self.run = RunProgress()
        self.say(f"[{number:>{len(str(self.total))}}/{self.total}] {label} ...")

    def event_at(self, where: str) -> EventHandler:
        """The handler for the events of the run at `where` (one run at a time: the current one)."""
        return self.event

    def event(self, event: dict) -> None:
        self.run.update(event)
        if event["kind"] == EventKind.EPOCH:
            self.say(
                f"{self.indent}{self.run.describe()} | run: {format_duration(self.run.left_s())} left | "
                f"comparison: {format_duration(self.comparison_left_s())} left"
            )

    def comparison_left_s(self) -> float | None:
        return self.estimate.left_s((self.run.left_s() or 0.0) if self.run else 0.0)

    def run_finished(self, model: str, wall_s: float, summary: str, measured: bool = True, where: str = "") -> None:
        self.done += 1
        if measured:
            self.estimate.finished(model, wall_s)
        self.run = None
        left = (
            f" | {self.done}/{self.total} done, {format_duration(self.estimate.left_s())} left"
            if self.done < self.total
            else ""
        )
        self.say(f"{self.indent}{summary}{left}")

    def close(self) -> None:
        pass


class TerminalDisplay(PlainDisplay):
    """Two progress bars (tqdm): the comparison's runs, and the current run's steps."""

    def __init__(self, total_runs: int, models: list[str], out: TextIO = sys.stdout):
        super().__init__(total_runs, models, out)
        from tqdm import tqdm

        self.tqdm = tqdm
        self.runs_bar = tqdm(
            total=total_runs,
            desc="comparison",
            unit="run",
            position=0,
            file=out,
            bar_format="{desc}: {n_fmt}/{total_fmt} runs |{bar}| {postfix}",
            dynamic_ncols=True,
        )
        self.steps_bar = None

    def say(self, text: str) -> None:
        self.tqdm.write(text, file=self.out)

    def run_started(self, number: int, label: str, where: str = "") -> None:
        super().run_started(number, label)
        self.steps_bar = self.tqdm(
            desc=label,
            unit="step",
            position=1,
            leave=False,
            file=self.out,
            dynamic_ncols=True,
            bar_format="{desc} |{bar}| {postfix}",
        )

    def event(self, event: dict) -> None:
        self.run.update(event)
        self.steps_bar.total = self.run.total_steps()
        self.steps_bar.n = RunProgress.steps_done(event)
        self.steps_bar.set_postfix_str(f"{self.run.describe()}, {format_duration(self.run.left_s())} left")
        self.runs_bar.set_postfix_str(f"about {format_duration(self.comparison_left_s())} left")

    def run_finished(self, model: str, wall_s: float, summary: str, measured: bool = True, where: str = "") -> None:
        if self.steps_bar is not None:
            self.steps_bar.close()
            self.steps_bar = None
        super().run_finished(model, wall_s, summary, measured)
        self.runs_bar.update(1)
        left = self.estimate.left_s()
        self.runs_bar.set_postfix_str(f"about {format_duration(left)} left" if left is not None else "")

    def close(self) -> None:
        if self.steps_bar is not None:
            self.steps_bar.close()
        self.runs_bar.close()


class ConcurrentDisplay(PlainDisplay):
    """One line per run and per epoch, each marked with where its run is (`[gpu 1]`): several
    runs at once, each GPU's current run named on its lines."""

    def __init__(self, total_runs: int, models: list[str], out: TextIO = sys.stdout):
        super().__init__(total_runs, models, out)
        self.runs: dict[str, RunProgress] = {}
        self.lock = threading.Lock()

    def run_started(self, number: int, label: str, where: str = "") -> None:
        with self.lock:
            self.runs[where] = RunProgress()
            self.say(f"[{number:>{len(str(self.total))}}/{self.total}] [{where}] {label} ...")

    def event_at(self, where: str) -> EventHandler:
        def on_event(event: dict) -> None:
            with self.lock:
                run = self.runs.setdefault(where, RunProgress())
                run.update(event)
                if event["kind"] == EventKind.EPOCH:
                    self.say(f"{self.indent}[{where}] {run.describe()} | run: {format_duration(run.left_s())} left")

        return on_event

    def run_finished(self, model: str, wall_s: float, summary: str, measured: bool = True, where: str = "") -> None:
        with self.lock:
            self.done += 1
            self.runs.pop(where, None)
            self.say(f"{self.indent}[{where}] {summary} | {self.done}/{self.total} done")


def display_for(total_runs: int, models: list[str], out: TextIO = sys.stdout, concurrent: bool = False) -> PlainDisplay:
    """Bars in a terminal, plain lines everywhere else, and marked lines when runs overlap."""
    if concurrent:
        return ConcurrentDisplay(total_runs, models, out)

    kind = TerminalDisplay if out.isatty() else PlainDisplay
    return kind(total_runs, models, out)
