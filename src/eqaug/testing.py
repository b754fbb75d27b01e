"""Helpers for tests of eqaug and of code built on it: tiny-run overrides and subprocess runners.

Like ``e3nn.util.test``, they live in the package so that any test tree can import them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: The source checkout (where ``conf/`` lives).
REPO = Path(__file__).resolve().parents[2]

#: Overrides that make any training config tiny: b=8 models, a few dozen samples, one epoch.
TINY = [
    "data.n_train=32",
    "data.n_val=16",
    "data.n_test=16",
    "optim.batch_size=16",
    "trainer.max_epochs=1",
    "trainer.enable_progress_bar=false",
    "trainer.threads=1",
]


def subprocess_env() -> dict[str, str]:
    """Environment for subprocesses of the tests: offline W&B, one thread, no GPU."""
    env = dict(os.environ)
    env.update({"WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", "HYDRA_FULL_ERROR": "1"})
    return env


def run_module(*args: str, cwd: Path = REPO, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m <args>`` in a subprocess with :func:`subprocess_env`; output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=cwd, env=subprocess_env(), capture_output=True, text=True, timeout=timeout
    )
