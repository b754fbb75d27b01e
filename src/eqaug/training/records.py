"""Run keys, run-record files and their locations.

A run is identified by its *run key*: a readable prefix plus a hash of the resolved config minus
the keys that only say where or how fast it runs (output paths, logging, threads, workers,
devices). One JSON record per finished (or failed) run at ``results_dir/runs/<study>/<run_key>.json``,
written atomically (temporary file in the same directory, then ``os.replace``), so concurrent
cluster jobs never write the same file and a crash never leaves half a record.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import tempfile
from pathlib import Path
from typing import Any

#: Top-level and nested keys that do not change what a run computes.
NON_IDENTITY_KEYS = {
    "results_dir",
    "study",
    "logger",
    "debug",
    "retry_failed",
    "reuse_runs",
    "save_checkpoints",
    "target",
    "trainer.accelerator",
    "trainer.devices",
    "trainer.strategy",
    "trainer.num_nodes",
    "trainer.num_workers",
    "trainer.threads",
    "trainer.enable_progress_bar",
    "trainer.log_every_n_steps",
    "trainer.requeue",
    "data.root",
    "data.cache_dir",
}

RECORD_FORMAT = 1


def _strip(cfg: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in cfg.items():
        path = f"{prefix}{key}"
        if path in NON_IDENTITY_KEYS:
            continue
        out[key] = _strip(value, path + ".") if isinstance(value, dict) else value
    return out


def identity_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """The part of a resolved config that determines the run's result."""
    return _strip(cfg)


def config_hash(cfg: dict[str, Any], length: int = 10) -> str:
    """Stable hash of :func:`identity_config` (sorted-key JSON, SHA-256)."""
    blob = json.dumps(identity_config(cfg), sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


def run_key(cfg: dict[str, Any]) -> str:
    """Readable, unique name of a run: ``<model>__<data>__n<n_train>__<rot|unrot>__s<seed>__<hash>``."""
    data, model = cfg["data"], cfg["model"]
    name = model.get("name") or model.get("family", "model")
    items = f"{data['dataset']}{data['n_items']}-{data['task']}"
    rot = "rot" if data["rotate"] else "unrot"
    if data.get("projection_point", "south_pole") != "south_pole":
        rot += f"-{data['projection_point']}"
    return f"{name}__{items}__n{data['n_train']}__{rot}__s{cfg['seed']}__{config_hash(cfg)}"


def record_path(results_dir: str | os.PathLike, study: str, key: str) -> Path:
    return Path(results_dir) / "runs" / study / f"{key}.json"


def checkpoint_dir(results_dir: str | os.PathLike, study: str, key: str) -> Path:
    return Path(results_dir) / "checkpoints" / study / key


def log_dir(results_dir: str | os.PathLike, study: str) -> Path:
    return Path(results_dir) / "logs" / study


def write_json_atomic(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """Write ``payload`` as JSON to ``path`` atomically (temp file + ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(payload, fh, indent=1, sort_keys=True, default=str, allow_nan=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_record(path: str | os.PathLike) -> dict[str, Any]:
    """Load a run record, with a clear error if the file is not one."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"run record {path} is not valid JSON ({err}); delete it to re-run that run") from err
    if not isinstance(record, dict) or "run_key" not in record or "status" not in record:
        raise ValueError(f"{path} is not an eqaug run record (no 'run_key'/'status'); delete it to re-run that run")
    return record


def iter_records(results_dir: str | os.PathLike, study: str | None = None):
    """Yield ``(path, record)`` for every record under ``results_dir/runs`` (one study or all)."""
    root = Path(results_dir) / "runs"
    pattern = f"{study}/*.json" if study else "*/*.json"
    for path in sorted(root.glob(pattern)):
        yield path, read_record(path)


def git_commit() -> str | None:
    """The eqaug source tree's git commit (with ``-dirty`` if modified), or ``None`` outside a checkout."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return commit.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def environment_info() -> dict[str, Any]:
    """Versions, hardware and provenance, for the record."""
    import lightning

    from eqaug.environment import describe

    return {
        **describe(),
        "eqaug_commit": git_commit(),
        "lightning": lightning.__version__,
        "hostname": platform.node(),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
    }
