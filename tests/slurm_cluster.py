"""A real single-node Slurm cluster on this machine, for the tests: munge, slurmctld and slurmd
on loopback with a minimal slurm.conf in a temporary folder, stopped after. Debian's packages
`slurm-wlm` and `munge` provide them (.ci/run installs them). `start` raises SlurmUnavailable
saying what is missing or what failed: a test that needs Slurm fails with that reason."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "scontrol")
MUNGE_KEY = Path("/etc/munge/munge.key")


class SlurmUnavailable(RuntimeError):
    pass


def config(folder: Path, cpus: int) -> str:
    host = socket.gethostname().split(".")[0]
    return f"""ClusterName=compare-test
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
MinJobAge=600
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


def run(*command: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


class SlurmCluster:
    def __init__(self, folder: Path):
        self.folder = folder
        self.conf = folder / "slurm.conf"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}
        self.munge_socket = folder / "munge.socket"

    def start(self) -> SlurmCluster:
        missing = [name for name in DAEMONS if shutil.which(name) is None and not Path(f"/usr/sbin/{name}").exists()]
        if missing:
            raise SlurmUnavailable(
                f"Slurm is not installed here (missing {', '.join(missing)}): apt-get install slurm-wlm munge"
            )
        if os.geteuid() != 0:
            raise SlurmUnavailable("the test cluster runs slurmctld and slurmd as root; this user is not root")
        for sub in ("state", "spool"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        self.conf.write_text(config(self.folder, os.cpu_count() or 1))
        self.start_munge()
        for daemon in ("slurmctld", "slurmd"):
            done = run(self.binary(daemon), "-f", str(self.conf), env=self.env)
            if done.returncode != 0:
                raise SlurmUnavailable(f"{daemon} did not start: {done.stderr.strip() or done.stdout.strip()}")
        self.wait_until_idle()
        return self

    def binary(self, name: str) -> str:
        return shutil.which(name) or f"/usr/sbin/{name}"

    def start_munge(self) -> None:
        if not MUNGE_KEY.exists():
            MUNGE_KEY.parent.mkdir(parents=True, exist_ok=True)
            MUNGE_KEY.write_bytes(os.urandom(1024))
            MUNGE_KEY.chmod(0o400)
        for folder in ("/run/munge", "/var/log/munge", "/var/lib/munge"):
            Path(folder).mkdir(parents=True, exist_ok=True)
        if run("pgrep", "-x", "munged").returncode != 0:
            done = run(self.binary("munged"), "--force")  # --force: as root, with the key root owns
            if done.returncode != 0:
                raise SlurmUnavailable(f"munged did not start: {done.stderr.strip()}")

    def wait_until_idle(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        state = ""
        while time.monotonic() < deadline:
            state = run("sinfo", "-h", "-o", "%T", env=self.env).stdout.strip()
            if state in ("idle", "mixed"):
                return
            time.sleep(0.5)
        log = (self.folder / "slurmd.log").read_text()[-2000:] if (self.folder / "slurmd.log").exists() else ""
        raise SlurmUnavailable(f"the Slurm node did not become idle within {timeout_s} s (state {state!r}). {log}")

    def stop(self) -> None:
        for daemon in ("slurmd", "slurmctld"):
            pid_file = self.folder / f"{daemon}.pid"
            if pid_file.exists():
                try:
                    os.kill(int(pid_file.read_text()), 15)
                except (ProcessLookupError, ValueError):
                    pass
