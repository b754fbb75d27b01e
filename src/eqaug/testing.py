"""Helpers for tests of eqaug and of code built on it: tiny-run overrides and subprocess runners.

Like ``e3nn.util.test``, they live in the package so that any test tree can import them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

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


def synthetic_items(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` fake 28×28 items: a bright (200..255) bar whose place depends on the class, on a dark background."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    for k, c in enumerate(labels):
        top = 4 + c  # rows 4+c .. 4+c+9
        images[k, top : top + 10, 8:20] = rng.integers(200, 256, size=(10, 12))
        images[k, top - 1, 8:20] = 100  # a dim edge: below the MNIST threshold 150
    return images, labels.astype(np.int64)


def write_idx_set(directory: Path, n_train: int = 40, n_test: int = 20, gz: bool = True, seed: int = 0) -> dict:
    """Write the four IDX files of a synthetic dataset into ``directory``; returns the arrays written.

    For tests of the IDX path (MNIST or FashionMNIST layout alike) without downloading anything:
    ``write_idx_set(root / "FashionMNIST" / "raw")`` makes ``data.root=root`` serve FashionMNIST.
    """
    from eqaug.data.idx import write_idx
    from eqaug.data.sources import IDX_FILES

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {"train": synthetic_items(n_train, seed), "test": synthetic_items(n_test, seed + 1)}
    suffix = ".gz" if gz else ""
    for pool, (img_name, lbl_name) in IDX_FILES.items():
        images, labels = arrays[pool]
        write_idx(directory / (img_name + suffix), images)
        write_idx(directory / (lbl_name + suffix), labels.astype(np.uint8))
    return arrays
