r"""Score against rotation angle: a trained model on its test items rotated by an exact polar tilt.

For each angle ``θ`` the test split is drawn with ``data.rotation = "polar:θ"`` (:mod:`eqaug.data.rotations`):
the same items as every other test set of the run (the sample index fixes the items), each moved away
from the training pose by exactly ``θ`` — the tilt of the pole, with a random azimuth and a random angle
about the axis per sample, seeded.  ``θ = 0`` keeps the item at its pose but spins it about the polar axis;
``θ = 180`` turns it upside down.  An equivariant model trained on unrotated data scores the same at every
angle up to sampling error; a CNN trained on unrotated data falls off as ``θ`` grows.

The curve is stored in the run record under ``robustness`` (:func:`robustness_curve`), and
:func:`score_record` adds it to a finished record from its best checkpoint.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

import torch
from torch import nn

from eqaug.data.dataset import make_dataloader
from eqaug.data.sources import PlanarPools
from eqaug.data.spec import DataSpec
from eqaug.training.metrics import MONITOR, build_metrics

__all__ = ["robustness_curve", "angle_spec"]

log = logging.getLogger("eqaug.train")


def angle_spec(spec: DataSpec, angle: float) -> DataSpec:
    """The test data of ``spec`` tilted by exactly ``angle`` degrees."""
    return replace(spec, rotation=f"polar:{float(angle):g}", rotate=True)


@torch.no_grad()
def _score(
    model: nn.Module, spec: DataSpec, batch_size: int, pools: PlanarPools | None, max_batches: int | None
) -> dict[str, object]:
    device = next(model.parameters()).device
    metrics = build_metrics(spec.task, spec.n_classes, spec.bandwidth).to(device)
    loader = make_dataloader(spec, "test", batch_size=batch_size, shuffle=False, pools=pools)
    for i, (x, y) in enumerate(loader):
        if max_batches is not None and i >= max_batches:
            break
        metrics.update(model(x.to(device)), y.to(device))
    return metrics.compute()


def robustness_curve(
    model: nn.Module,
    spec: DataSpec,
    angles: list[float],
    batch_size: int,
    pools: PlanarPools | None = None,
    max_batches: int | None = None,
) -> dict[str, Any]:
    """The main test metric of ``model`` at each polar tilt in ``angles`` (degrees), in eval mode.

    Returns ``{"metric", "angles_deg", "scores", "seconds", "n_test"}`` (``scores[i]`` at ``angles_deg[i]``).
    ``max_batches`` limits each angle's test set (``fast_dev_run``).
    """
    metric = MONITOR[spec.task]
    was_training = model.training
    model.eval()
    t0 = time.perf_counter()
    scores = []
    try:
        for angle in angles:
            scores.append(float(_score(model, angle_spec(spec, angle), batch_size, pools, max_batches)[metric]))
    finally:
        model.train(was_training)
    seconds = time.perf_counter() - t0
    log.info(
        "robustness (%s at tilt %s°): %s (%.1f s)",
        metric,
        "/".join(f"{a:g}" for a in angles),
        " ".join(f"{s:.3f}" for s in scores),
        seconds,
    )
    return {
        "metric": metric,
        "angles_deg": [float(a) for a in angles],
        "scores": scores,
        "seconds": seconds,
        "n_test": spec.n_test,
    }
