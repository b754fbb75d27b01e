"""Hydra entry point: ``python -m eqaug.train [overrides]`` (or ``eqaug-train``).

One run per call; ``-m`` sweeps (``python -m eqaug.train -m experiment=seg_mnist1_small``).
Runs whose record exists are skipped, interrupted runs resume from their last checkpoint.
"""

from __future__ import annotations

import math

import hydra
from omegaconf import DictConfig

from eqaug.config import register_configs

register_configs()


@hydra.main(version_base="1.3", config_path="../../conf", config_name="train")
def main(cfg: DictConfig) -> float:
    """Train one run; returns its best validation score (NaN for a failed run), for Hydra sweepers."""
    from eqaug.training.run import run_training

    record = run_training(cfg)
    if record["status"] != "finished":
        return math.nan
    score = record.get("best_val_score")
    return math.nan if score is None else float(score)


if __name__ == "__main__":
    main()
