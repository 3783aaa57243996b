"""One writer per results folder: a second comparison is refused, a dead holder's lock is taken over."""

import os
import signal
import subprocess
import time
from pathlib import Path

from compare.contract.results import load_results
from compare.harness import cli
from compare.harness.folder_lock import HOLDER_NAME
from tests.command import run_cli
from tests.fake_worker import MLP_AND_LSTM_ARGUMENTS, resume, start_with_the_lstm_hung


def stop_hanging_workers(out: Path) -> None:
    """The hanging worker lives in its own session: end it by its spec path."""
    subprocess.run(["pkill", "-KILL", "-f", str(out / "runs")], check=False)


def test_a_second_comparison_is_refused_and_a_killed_holder_is_taken_over(tmp_path):
    # What holds and takes over the folder is the harness: the runs are made up, the LSTM's hangs until killed.
    out = tmp_path / "out"
    first = start_with_the_lstm_hung(out)
    try:
        started = time.monotonic()
        second = run_cli(*MLP_AND_LSTM_ARGUMENTS, "--out", str(out), "--resume")
        assert second.returncode == cli.EXIT_USAGE, second.stdout + second.stderr
        assert time.monotonic() - started < 60  # at once: it does not wait for the lock
        assert f"{out} is being written by another comparison: process {first.pid}" in second.stderr
        assert "choose another --out folder" in second.stderr
        # Reading a report from the folder being written still works.
        report = run_cli("report", str(out))
        assert report.returncode == 0, report.stderr
        assert load_results(out)["runs"][0]["status"] == "ok"
    finally:
        first.send_signal(signal.SIGKILL)  # no goodbye: the lock and its holder file stay behind
        first.wait(timeout=60)
        stop_hanging_workers(out)
    kept = load_results(out)["runs"]
    assert (out / HOLDER_NAME).exists()

    resumed = resume(out)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"took over the lock of {out} left by process {first.pid}" in resumed.stderr
    final = load_results(out)
    assert [(r["model"], r["status"]) for r in final["runs"]] == [("mlp", "ok"), ("lstm", "ok")]
    assert final["runs"][0] == kept[0]  # no run lost, none run twice
    assert not (out / HOLDER_NAME).exists()  # released at the end


def test_check_command_refuses_a_folder_held_by_a_comparison(tmp_path, capsys):
    from compare.harness.folder_lock import FolderLock

    holder = FolderLock(tmp_path).acquire()
    try:
        assert cli.main(["check", "--backends", "torch", "--out", str(tmp_path)]) == cli.EXIT_USAGE
        assert f"{tmp_path} is being written by another comparison: process {os.getpid()}" in capsys.readouterr().err
    finally:
        holder.release()
