"""Run a job set's Hydra multiruns on parallel lanes (one thread each), in plan order.

Every run writes its record as it finishes, so a runner can be stopped at any time and started
again: finished runs are skipped, interrupted ones resume from their last checkpoint.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from eqaug.paths import REPO_ROOT
from eqaug.study.plan import Job
from eqaug.study.progress import Progress

__all__ = ["job_name", "run_jobs"]

#: the overrides that name a job's log file, in this order
_NAME_KEYS = ("experiment", "model", "seed", "data.n_train", "optim.lr")


def job_name(index: int, command: list[str]) -> str:
    """``<index>_<experiment>_<model>_<seed>_<n_train>_<lr>`` (those the command sets), the job's log name."""
    values = dict(a.split("=", 1) for a in command if "=" in a and not a.startswith("-"))
    return "_".join([f"{index:02d}"] + [values[k] for k in _NAME_KEYS if k in values])


def run_jobs(
    jobs: list[Job],
    commands: list[list[str]],
    results_dir: str,
    log_dir: str | os.PathLike,
    lanes: int = 2,
    progress_seconds: float = 60,
) -> list[str]:
    """Run ``commands`` (one per job, in order) on ``lanes`` parallel lanes; each job's output goes to
    ``<log_dir>/<job name>.log``. Returns the names of the jobs that exited non-zero."""
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": os.environ.get("WANDB_MODE", "offline")}
    failures: list[str] = []
    say_lock = threading.Lock()

    def say(line: str) -> None:  # one write per line: lines of parallel lanes never interleave
        with say_lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def run_one(index: int, command: list[str], progress: Progress) -> None:
        name = job_name(index, command)
        start = time.time()
        say(f"[job] start {name}")
        with open(log_dir / f"{name}.log", "a") as log:
            code = subprocess.run(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
        say(f"[job] done  {name} (exit {code}, {time.time() - start:.0f} s)")
        if code != 0:
            failures.append(name)  # list.append is atomic
        progress.report()

    with Progress(jobs, results_dir, progress_seconds) as progress:
        with ThreadPoolExecutor(max_workers=max(1, lanes)) as pool:  # FIFO: jobs start in plan order
            futures = [pool.submit(run_one, i, cmd, progress) for i, cmd in enumerate(commands)]
            for future in futures:
                future.result()
    return failures
