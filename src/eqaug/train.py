"""Hydra entry point: ``python -m eqaug.train [overrides]`` (or ``eqaug-train``).

One run per call; ``-m`` sweeps (``python -m eqaug.train -m experiment=seg_mnist1_small``).
Runs whose record exists are skipped, interrupted runs resume from their last checkpoint.
Exit status: a single run that fails exits 1; a multirun goes on past failed runs, lists them at
the end and exits 1 (:class:`eqaug.training.hydra_callbacks.RunGuard`).
"""

from __future__ import annotations

import importlib.util
import logging
import math
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from eqaug.config import register_configs

register_configs()
log = logging.getLogger("eqaug.train")

#: Launchers that need an optional extra: override value → (importable module, pip extra).
LAUNCHER_EXTRAS = {
    "slurm": ("hydra_plugins.hydra_submitit_launcher", "slurm"),
    "submitit_slurm": ("hydra_plugins.hydra_submitit_launcher", "slurm"),
    "submitit_local": ("hydra_plugins.hydra_submitit_launcher", "slurm"),
}


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def check_launcher_installed(argv: list[str]) -> None:
    """Exit with a clear message when ``hydra/launcher=<x>`` names a launcher whose extra is not installed."""
    for arg in argv:
        if not arg.startswith("hydra/launcher="):
            continue
        choice = arg.split("=", 1)[1]
        if choice in LAUNCHER_EXTRAS and not _importable(LAUNCHER_EXTRAS[choice][0]):
            raise SystemExit(
                f"hydra/launcher={choice} needs hydra-submitit-launcher, which is not installed: "
                f"run `pip install -e '.[{LAUNCHER_EXTRAS[choice][1]}]'` (or `make install`, which installs it)"
            )


@hydra.main(version_base="1.3", config_path="../../conf", config_name="train")
def _main(cfg: DictConfig) -> float:
    from eqaug.training.hydra_callbacks import write_outcome
    from eqaug.training.run import run_training

    record = run_training(cfg)
    hydra_cfg = HydraConfig.get()
    write_outcome(hydra_cfg.runtime.output_dir, record)
    if record["status"] not in ("finished", "busy") and hydra_cfg.mode == RunMode.RUN:
        failure = record.get("failure") or {}
        log.error("run %s failed (%s): %s", record.get("run_key"), failure.get("kind"), failure.get("message"))
        sys.exit(1)
    if record["status"] != "finished":
        return math.nan
    score = record.get("best_val_score")
    return math.nan if score is None else float(score)


def main() -> float | None:
    """Train one run (or a sweep with ``-m``); returns the best validation score of a single run."""
    check_launcher_installed(sys.argv[1:])
    return _main()


if __name__ == "__main__":
    main()
