"""A worker that misbehaves on request, for the harness's failure-isolation tests.

FAULTS (environment): comma-separated `model--framework=fault`, fault one of
raise (an exception inside the run), hang (never returns), kill (SIGKILL, as
the out-of-memory killer does) or exit (dies without writing a result). Every
other job runs the real worker.
"""

import json
import os
import signal
import sys
import time
from pathlib import Path

from compare.run import worker


def injected_failure(spec: dict) -> dict:
    raise RuntimeError("injected failure inside the run")


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
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
