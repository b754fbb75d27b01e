"""Re-run a committed run to add what its record lacks (the robustness curve), without touching what it has.

The committed study records have no checkpoints, so their score-against-tilt curve
(:mod:`eqaug.training.robustness`) can only come from training the run again: the same resolved config,
hence the same run key, data and seed (deterministic on the CPU). The re-run trains in a scratch results
directory (``<results>/rerun``, git-ignored: its checkpoints resume an interrupted re-run and its record
makes a second call free), then the committed record gains

* ``robustness``: the re-run's curve, and
* ``robustness_source``: ``{"kind": "rerun", "run_key", "metrics", "best_val_score", "steps_run",
  "same_metrics", "max_metric_difference", "environment"}`` — the re-run's own test metrics beside the
  record's, so a reader sees whether the curve belongs to the very model the record scored
  (``same_metrics``) or to a re-trained twin (another CPU or a later version of the layers can change the
  float32 arithmetic; the difference is stated).

Records of the same run under other studies (one key, several studies) gain the same. Nothing else of
a record changes. A re-run whose key differs from the record's (a config that no
longer composes to the same run) is refused with both keys named.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from eqaug.training import records

__all__ = ["RerunKeyMismatchError", "rerun_config", "rerun_for_curve", "metric_differences"]

#: Where the re-runs train, under the results directory (git-ignored).
RERUN_DIR = "rerun"


class RerunKeyMismatchError(ValueError):
    """The record's config no longer composes to the record's run key."""


def rerun_config(record: dict[str, Any], scratch_dir: str | os.PathLike) -> dict[str, Any]:
    """The record's resolved config, writing to ``scratch_dir`` and with the robustness curve on."""
    cfg = copy.deepcopy(record["config"])
    cfg.pop(records.DATA_IDENTITY_KEY, None)  # recomputed from the data by the run
    cfg["results_dir"] = str(scratch_dir)
    cfg["robustness"] = {**cfg.get("robustness", {}), "enabled": True}
    cfg["reuse_runs"] = False  # train this very run, never copy another record
    return cfg


def _flat_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    out = {}
    for split in ("test_rot", "test_unrot"):
        for name, value in (metrics.get(split) or {}).items():
            if isinstance(value, (int, float)):
                out[f"{split}/{name}"] = float(value)
    return out


def metric_differences(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float]:
    """Absolute differences of the scalar test metrics the two metric dicts share."""
    fa, fb = _flat_metrics(a), _flat_metrics(b)
    return {
        k: abs(fa[k] - fb[k]) for k in sorted(fa.keys() & fb.keys()) if not (math.isnan(fa[k]) or math.isnan(fb[k]))
    }


def rerun_for_curve(
    record_path: str | os.PathLike,
    results_dir: str | os.PathLike,
    log: Callable[[str], None] = print,
) -> dict[str, Any] | None:
    """Train the run of ``record_path`` again in ``<results_dir>/rerun`` and add its curve to the record.

    Returns the updated record, or ``None`` when the record already has a curve or is not finished.
    """
    from eqaug.training.run import run_training

    record_path = Path(record_path)
    record = records.read_record(record_path)
    if record.get("status") != "finished" or record.get("robustness"):
        return None
    scratch = Path(results_dir) / RERUN_DIR
    rerun = run_training(OmegaConf.create(rerun_config(record, scratch)))
    if rerun.get("run_key") != record["run_key"]:
        raise RerunKeyMismatchError(
            f"re-running {record_path.name} gave run key {rerun.get('run_key')!r}, not the record's "
            f"{record['run_key']!r}: its config no longer composes to the same run (map the key first)"
        )
    if rerun.get("status") != "finished" or not rerun.get("robustness"):
        raise RuntimeError(f"the re-run of {record['run_key']} ended {rerun.get('status')!r} without a curve")
    diffs = metric_differences(record["metrics"], rerun["metrics"])
    record["robustness"] = rerun["robustness"]
    record["robustness_source"] = {
        "kind": "rerun",
        "run_key": rerun["run_key"],
        "metrics": {k: rerun["metrics"][k] for k in ("test_rot", "test_unrot") if k in rerun["metrics"]},
        "best_val_score": rerun.get("best_val_score"),
        "steps_run": rerun.get("steps_run"),
        "same_metrics": bool(diffs) and max(diffs.values()) == 0.0,
        "max_metric_difference": max(diffs.values()) if diffs else None,
        "environment": rerun.get("environment"),
    }
    records.write_json_atomic(record_path, record)
    for other_path, other in records.iter_records(results_dir):  # the same run committed under another study
        if other_path != record_path and other.get("run_key") == record["run_key"] and not other.get("robustness"):
            other["robustness"], other["robustness_source"] = record["robustness"], record["robustness_source"]
            records.write_json_atomic(other_path, other)
    src = record["robustness_source"]
    same = "identical" if src["same_metrics"] else f"differ by up to {src['max_metric_difference']:.3g}"
    scores = " ".join(f"{s:.3f}" for s in record["robustness"]["scores"])
    log(f"robustness of {record['run_key']} (re-run, metrics {same}): {scores}")
    return record
