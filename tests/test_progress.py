"""Live progress: the estimate of the time left, and what each display prints."""

import io
import json
import os

from compare.contract.progress import PROGRESS_FD, Reporter
from compare.harness import display
from compare.harness.display import Estimate, PlainDisplay, RunProgress


def test_the_estimate_expects_each_model_to_take_what_its_finished_runs_took():
    estimate = Estimate(["mlp", "mlp", "lstm", "lstm"])
    assert estimate.left_s() is None  # nothing finished: no basis for a guess
    estimate.start()
    estimate.finished("mlp", 10.0)
    assert estimate.left_s() == 30.0  # mlp: 10 s; lstm, not yet seen: the mean of what finished
    estimate.start()
    estimate.finished("mlp", 20.0)
    estimate.start()
    estimate.finished("lstm", 40.0)
    assert estimate.left_s(current_left_s=5.0) == 45.0  # one lstm left at 40 s, plus the current run's 5


def test_a_run_s_time_left_comes_from_its_rate_after_the_first_event(monkeypatch):
    clock = iter([100.0, 100.0, 110.0])
    monkeypatch.setattr(display.time, "monotonic", lambda: next(clock))
    run = RunProgress()
    event = {"kind": "step", "epoch": 1, "epochs": 2, "step": 10, "steps_per_epoch": 50, "loss": 0.5, "accuracy": 0.8}
    run.update(event)  # at 100 s, 10 of 100 steps done
    run.update({**event, "step": 30})  # at 110 s: 20 steps in 10 s
    assert run.total_steps() == 100 and run.left_s() == 35.0  # 70 steps at 0.5 s
    assert run.describe() == "epoch 1/2, step 30/50, loss 0.5000, acc 80.00%"


def test_the_plain_display_prints_a_line_per_run_and_per_epoch_only():
    out = io.StringIO()
    display = PlainDisplay(2, ["mlp", "lstm"], out)
    display.run_started(1, "mlp on torch")
    base = {"epoch": 1, "epochs": 1, "steps_per_epoch": 8, "loss": 0.25, "accuracy": 0.5}
    display.event({**base, "kind": "step", "step": 4})  # steps update the state, print nothing
    display.event({**base, "kind": "epoch", "step": 8, "test_accuracy": 0.75})
    display.run_finished("mlp", 3.0, "ok: test acc 75.00%")
    lines = out.getvalue().splitlines()
    assert lines[0] == "[1/2] mlp on torch ..."
    assert lines[1].startswith("      epoch 1/1, step 8/8, loss 0.2500, acc 50.00%, test acc 75.00% | run: ")
    assert lines[2] == "      ok: test acc 75.00% | 1/2 done, 3s left"
    assert len(lines) == 3


def test_the_reporter_writes_json_lines_to_the_pipe_it_is_given(monkeypatch):
    read_end, write_end = os.pipe()
    monkeypatch.setenv(PROGRESS_FD, str(write_end))
    reporter = Reporter(epochs=3, steps_per_epoch=10)
    assert reporter.wants_step()
    reporter.step(1, 5, 0.7, 0.6)
    assert not reporter.wants_step()  # throttled: at most one step event per interval
    reporter.epoch_end({"epoch": 1, "train_loss": 0.5, "train_accuracy": 0.7, "test_accuracy": 0.8})
    reporter.stream.close()
    events = [json.loads(line) for line in os.read(read_end, 65536).decode().splitlines()]
    os.close(read_end)
    assert [e["kind"] for e in events] == ["step", "epoch"]
    assert events[1] == {
        "kind": "epoch",
        "epoch": 1,
        "step": 10,
        "loss": 0.5,
        "accuracy": 0.7,
        "test_accuracy": 0.8,
        "epochs": 3,
        "steps_per_epoch": 10,
    }


def test_without_a_pipe_the_reporter_is_silent(monkeypatch):
    monkeypatch.delenv(PROGRESS_FD, raising=False)
    reporter = Reporter(epochs=1, steps_per_epoch=1)
    assert not reporter.wants_step()
    reporter.epoch_end({"epoch": 1, "train_loss": 0.5, "train_accuracy": 0.7, "test_accuracy": 0.8})
