"""Run keys, run-record files and their locations.

A run is identified by its *run key*: a readable prefix plus a hash of the resolved config minus
the keys that only say where or how fast it runs (output paths, logging, threads, workers,
devices), plus the identity of the data actually used (``data_identity``: the resolved source and a
content fingerprint of the planar pools, :func:`eqaug.data.sources.data_identity`) — not the path
they were read from, so a run keeps its key on another machine and changes it on other data.
One JSON record per finished (or failed) run at ``results_dir/runs/<study>/<run_key>.json``,
written atomically (temporary file in the same directory, then ``os.replace``), so concurrent
cluster jobs never write the same file and a crash never leaves half a record. Records are
readable by the group and others (mode ``0o644`` less the umask): a shared results folder works.
Paths inside a record are relative to ``results_dir`` (checkpoints) or to ``data.root`` (data), so
a committed or moved ``results/`` stays valid.

Format history: format 1 keyed runs without ``data_identity``; format 2 keys include it.
:mod:`eqaug.training.migrate` rewrites format-1 records (new key, same results).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: Top-level and nested keys that do not change what a run computes.
NON_IDENTITY_KEYS = {
    "results_dir",
    "robustness",
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
    "data.source",  # how the data were asked for; what they are is the data identity
}
#: Format 1 hashed ``data.source`` (the request) and not the data identity (:mod:`eqaug.training.migrate`).
LEGACY_IDENTITY_KEYS = {
    1: NON_IDENTITY_KEYS - {"data.source"},
}

#: Config keys added after records existed, with the value that reproduces the old behaviour: a key at
#: that value is left out of the hash, so adding a key never re-keys the runs that did not use it.
ADDED_KEY_DEFAULTS: dict[str, Any] = {
    "trainer.min_steps": -1,
    "data.rotation": None,
    "model.pole_padding": False,
    "data.conventions": "eqaug",
    "model.upsampling": "exact",
}

RECORD_FORMAT = 2
#: The top-level key of a resolved config that holds the data identity (part of the run key).
DATA_IDENTITY_KEY = "data_identity"


def _strip(cfg: dict[str, Any], exclude: set[str], prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in cfg.items():
        path = f"{prefix}{key}"
        if path in exclude or (path in ADDED_KEY_DEFAULTS and value == ADDED_KEY_DEFAULTS[path]):
            continue
        out[key] = _strip(value, exclude, path + ".") if isinstance(value, dict) else value
    return out


def identity_config(cfg: dict[str, Any], exclude: set[str] = NON_IDENTITY_KEYS) -> dict[str, Any]:
    """The part of a resolved config that determines the run's result (all but ``exclude``)."""
    return _strip(cfg, exclude)


def config_hash(cfg: dict[str, Any], length: int = 10, exclude: set[str] = NON_IDENTITY_KEYS) -> str:
    """Stable hash of :func:`identity_config` (sorted-key JSON, SHA-256)."""
    blob = json.dumps(identity_config(cfg, exclude), sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


class MissingDataIdentityError(KeyError):
    """A run key was asked for a config without ``data_identity``."""

    def __str__(self) -> str:
        return str(self.args[0])


def run_key(cfg: dict[str, Any]) -> str:
    """Readable, unique name of a run: ``<model>__<data>__n<n_train>__<rot|unrot>__s<seed>__<hash>``.

    The rotation part gains ``-<projection_point>`` and ``-<conventions>`` where these are not the defaults.

    ``cfg`` is a resolved config with its ``data_identity`` (added by
    :func:`eqaug.training.run.with_data_identity`); the hash covers both.
    """
    if not isinstance(cfg.get(DATA_IDENTITY_KEY), dict):
        raise MissingDataIdentityError(
            f"the config has no {DATA_IDENTITY_KEY!r} (resolved data source and fingerprint), which every run key "
            "includes: add it with eqaug.training.run.with_data_identity(resolved)"
        )
    data, model = cfg["data"], cfg["model"]
    name = model.get("name") or model.get("family", "model")
    items = f"{data['dataset']}{data['n_items']}-{data['task']}"
    rot = rotation_label(data)
    if data.get("projection_point", "south_pole") != "south_pole":
        rot += f"-{data['projection_point']}"
    if data.get("conventions", "eqaug") != "eqaug":
        rot += f"-{data['conventions']}"
    return f"{name}__{items}__n{data['n_train']}__{rot}__s{cfg['seed']}__{config_hash(cfg)}"


def rotation_label(data: dict[str, Any]) -> str:
    """The rotation part of a run key: ``rot`` (Haar), ``unrot``, ``rotz``, ``tilt30``, ``polar30``."""
    rotation = data.get("rotation")
    if rotation:
        return "rotz" if rotation == "z" else rotation.replace(":", "")
    return "rot" if data["rotate"] else "unrot"


def record_path(results_dir: str | os.PathLike, study: str, key: str) -> Path:
    return Path(results_dir) / "runs" / study / f"{key}.json"


def checkpoint_dir(results_dir: str | os.PathLike, study: str, key: str) -> Path:
    return Path(results_dir) / "checkpoints" / study / key


def lock_path(results_dir: str | os.PathLike, study: str, key: str) -> Path:
    """The lock file held while a run trains (``results_dir/locks/<study>/<run_key>.lock``)."""
    return Path(results_dir) / "locks" / study / f"{key}.lock"


def log_dir(results_dir: str | os.PathLike, study: str) -> Path:
    return Path(results_dir) / "logs" / study


#: Permissions of records and other result files before the umask (mkstemp alone gives 0o600).
RECORD_MODE = 0o644


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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
        os.chmod(tmp, RECORD_MODE & ~_umask())
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
    required = REQUIRED_KEYS.get(record["status"], ())
    missing = [k for k in required if k not in record]
    if missing:
        raise ValueError(
            f"run record {path} (status {record['status']!r}) lacks {', '.join(map(repr, missing))}: it is incomplete "
            "or was written by another program; delete it to re-run that run"
        )
    return record


#: Keys a record of each status must have (checked by :func:`read_record`).
REQUIRED_KEYS = {
    "finished": ("config", "metrics", "history", "study"),
    "failed": ("config", "failure", "study"),
}


def relative_to_results(path: str | os.PathLike | None, results_dir: str | os.PathLike) -> str | None:
    """``path`` relative to ``results_dir`` (POSIX), for records; unchanged if it lies elsewhere."""
    if not path:
        return None
    try:
        return Path(path).resolve().relative_to(Path(results_dir).resolve()).as_posix()
    except ValueError:
        return str(path)


def iter_records(results_dir: str | os.PathLike, study: str | None = None) -> Iterator[tuple[Path, dict[str, Any]]]:
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
