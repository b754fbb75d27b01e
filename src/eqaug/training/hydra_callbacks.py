"""Hydra callbacks of the training app (registered in ``conf/train.yaml`` under ``hydra.callbacks``).

:class:`RunGuard` checks before anything runs that ``results_dir`` is writable, and after a
multirun (any launcher: the jobs write their outcome into their Hydra output directories) reports
the runs that failed and exits non-zero, so a script notices; the sweep itself goes on past a
failed run.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger("eqaug.train")

#: File each job writes into its Hydra output directory: ``{"run_key", "status", "message"}``.
OUTCOME_FILE = "eqaug_outcome.json"


def write_outcome(output_dir: str | Path, record: dict[str, Any]) -> Path:
    """Write a job's outcome (status, run key, first line of a failure) into its output directory."""
    failure = record.get("failure") or {}
    message = str(failure.get("message") or "").strip().splitlines()
    path = Path(output_dir) / OUTCOME_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    outcome = {
        "run_key": record.get("run_key"),
        "status": record.get("status"),
        "message": message[0] if message else "",
    }
    path.write_text(json.dumps(outcome))
    return path


def read_outcomes(sweep_dir: str | Path) -> list[dict[str, Any]]:
    """The outcomes written by the jobs of a multirun (``<sweep_dir>/<job>/eqaug_outcome.json``)."""
    out = []
    for path in sorted(Path(sweep_dir).glob(f"*/{OUTCOME_FILE}")):
        try:
            out.append({**json.loads(path.read_text()), "job": path.parent.name})
        except (OSError, ValueError):
            out.append({"job": path.parent.name, "status": "unknown", "message": f"unreadable {path}"})
    return out


class RunGuard(Callback):
    """Refuse an unwritable ``results_dir`` up front; make a multirun with failed runs exit non-zero."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        outcomes = read_outcomes(config.hydra.sweep.dir)
        failed = [o for o in outcomes if o.get("status") not in ("finished", "busy")]
        if not failed:
            return
        lines = [
            f"  job {o['job']}: {o.get('run_key') or '(no run key)'} {o.get('status')}: {o.get('message', '')}"
            for o in failed
        ]
        print(f"{len(failed)} of {len(outcomes)} runs failed:\n" + "\n".join(lines), file=sys.stderr, flush=True)
        sys.exit(1)

    @staticmethod
    def _check(config: DictConfig) -> None:
        from eqaug.training.run import check_results_dir_writable

        check_results_dir_writable(config.results_dir)
