"""A worker that misbehaves on request, for the harness's failure-isolation tests, or
makes up its result, for the tests of repeated runs' statistics.

FAULTS (environment): comma-separated `model--framework=fault`, fault one of
raise (an exception inside the run), hang (never returns), kill (SIGKILL, as
the out-of-memory killer does) or exit (dies without writing a result).
FAKE_RESULTS (environment, JSON): {"model--framework": [[step ms, time to target s
or null, test accuracy], ...]}, one entry per seed from 0: that job trains nothing
and writes a complete result with these numbers. Every other job runs the real worker.
FAKE_PIDS (environment): a folder where each worker leaves a file named by its process id.
FAKE_SECONDS (environment): such a made-up job first sleeps this long, and records what it
saw (`observed`: CUDA_VISIBLE_DEVICES, its CPU cores, its start and end), for the
executors' tests.
`cli_command()` and `fake_environment()`: the comparison's command line with this worker and its
environment, for tests that start it as a process of its own (interruption, the folder lock, the
executors); `start_with_the_lstm_hung()` and `resume()`: a comparison of a made-up MLP and LSTM to
interrupt, and its --resume.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from compare.run import worker


def cli_command() -> list[str]:
    """The command line of `python -m compare` with this worker, the arguments to go after it; no
    child makes the shared initial weights, as the made-up runs load none."""
    return [
        sys.executable,
        "-c",
        "import sys; from compare.harness import cli, orchestrator; "
        "orchestrator.WORKER_COMMAND = [sys.executable, '-m', 'tests.fake_worker']; "
        "orchestrator.make_initial_weights = lambda *_: ({}, 'made up'); "
        "sys.exit(cli.main(sys.argv[1:]))",
    ]


def fake_environment(made_up: dict, faults: str = "") -> dict[str, str]:
    """This process's environment with `made_up` results (FAKE_RESULTS) and `faults` (FAULTS)."""
    return {**os.environ, "FAKE_RESULTS": json.dumps(made_up), "FAULTS": faults}


# A comparison to interrupt and resume: the MLP and the LSTM on torch, their runs made up (one seed).
MLP_AND_LSTM_ARGUMENTS = ["--preset", "smoke", "--models", "mlp,lstm", "--frameworks", "torch"]
MLP_AND_LSTM_ARGUMENTS += ["--device", "cpu", "--skip-checks"]
MLP_AND_LSTM = {"mlp--torch": [[10.0, None, 0.9]], "lstm--torch": [[12.0, None, 0.9]]}


def start_with_the_lstm_hung(out: Path) -> subprocess.Popen:
    """That comparison into `out`, once its MLP run is in results.json; its LSTM run hangs until stopped."""
    process = subprocess.Popen(
        [*cli_command(), *MLP_AND_LSTM_ARGUMENTS, "--out", str(out)],
        env=fake_environment({"mlp--torch": MLP_AND_LSTM["mlp--torch"]}, "lstm--torch=hang"),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        results = out / "results.json"
        if results.exists() and json.loads(results.read_text())["runs"]:
            return process
        assert process.poll() is None, process.stdout.read()
        time.sleep(0.5)
    raise AssertionError("the first run never finished")


def resume(out: Path) -> subprocess.CompletedProcess:
    """That comparison again with --resume, its LSTM run finishing this time."""
    command = [*cli_command(), *MLP_AND_LSTM_ARGUMENTS, "--out", str(out), "--resume"]
    return subprocess.run(command, env=fake_environment(MLP_AND_LSTM), capture_output=True, text=True, timeout=120)


def injected_failure(spec: dict) -> dict:
    raise RuntimeError("injected failure inside the run")


def made_up_result(spec: dict, step_ms: float, time_to_target_s: float | None, accuracy: float) -> dict:
    """A result as the real worker records it, with the given numbers and no training."""
    epochs = spec["epochs"]
    history = [
        {
            "epoch": epoch,
            "train_loss": 0.5,
            "train_accuracy": accuracy,
            "val_loss": None,
            "val_accuracy": None,
            "test_loss": 0.5,
            "test_accuracy": accuracy if epoch == epochs else 0.0,
            "epoch_time_s": 1.0,
            "elapsed_s": float(epoch),
        }
        for epoch in range(1, epochs + 1)
    ]
    return {
        "model": spec["model"],
        "framework": spec["framework"],
        "status": "ok",
        "diverged_at_step": None,
        "initial_weights": "own",
        "step0_max_abs_logit_diff": None,
        "model_info": {
            "output_shape": [64, 10],
            "trainable_params": 1,
            "non_trainable_params": 0,
            "reference_params": [1, 0],
        },
        "history": history,
        "final_test_loss": 0.5,
        "final_test_accuracy": accuracy,
        "early_stopping": None,
        "to_target": {
            "target_accuracy": spec["target_accuracy"],
            "epochs_to_target": epochs if time_to_target_s is not None else None,
            "time_to_target_s": time_to_target_s,
        },
        "timing": {
            "time_to_first_step_s": 0.1,
            "step_time_ms_median": step_ms,
            "step_time_ms_iqr": 0.0,
            "step_time_ms_q1": step_ms,
            "step_time_ms_q3": step_ms,
            "steady_steps": 4,
            "samples_per_s": spec["batch_size"] * 1000 / step_ms,
            "inference_latency_ms_batch_1": 1.0,
            "inference_latency_ms_large_batch": 1.0,
            "inference_large_batch_size": 64,
        },
        "phases_s": {"training": 1.0, "evaluation": 0.1},
        "memory": {"peak_device_memory_mb": None, "peak_rss_mb": 1.0},
        "settings": {
            "engine": "none",
            "jit_compile": False,
            "precision": "fp32",
            "data_path": "made up",
            "compilation": None,
        },
        "device": {"kind": "cpu", "name": "CPU", "count": 1},
        "devices": 1,
        "data_used": {"train_samples": 512, "validation_samples": 0, "test_samples": 256},
    }


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    if os.environ.get("FAKE_PIDS"):  # a folder: each worker leaves its process id there
        (Path(os.environ["FAKE_PIDS"]) / str(os.getpid())).touch()
    made_up = json.loads(os.environ.get("FAKE_RESULTS", "{}")).get(f"{spec['model']}--{spec['framework']}")
    if made_up is not None:
        started = time.time()
        time.sleep(float(os.environ.get("FAKE_SECONDS", "0")))
        result = made_up_result(spec, *made_up[spec["seed"]])
        result["observed"] = {
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "cpus": sorted(os.sched_getaffinity(0)),
            "started_at": started,
            "ended_at": time.time(),
        }
        Path(argv[1]).write_text(json.dumps(result))
        return 0
    faults = dict(item.split("=") for item in os.environ.get("FAULTS", "").split(",") if item)
    fault = faults.get(f"{spec['model']}--{spec['framework']}")
    if fault == "raise":
        worker.run = injected_failure
    elif fault == "hang":
        time.sleep(3600)
    elif fault == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif fault == "exit":
        print("dying without a result", file=sys.stderr)
        return 7
    return worker.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
