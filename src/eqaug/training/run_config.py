"""A run's configuration before it runs: the composed Hydra config validated into a :class:`TrainConfig`
and a plain resolved dict (:func:`to_run_config`), that dict with the identity of its data, which the run
key includes (:func:`with_data_identity`), and the check that ``results_dir`` is writable.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from eqaug.training import records
from eqaug.training.schema import TrainConfig

__all__ = ["to_run_config", "with_data_identity", "ResultsDirNotWritableError", "check_results_dir_writable"]


def to_run_config(cfg: DictConfig) -> tuple[TrainConfig, dict[str, Any]]:
    """Validate a composed config; returns the typed config and the resolved plain dict."""
    resolved = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    resolved.pop("hydra", None)
    typed = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(TrainConfig), resolved))
    from eqaug.models import spec_from_config

    model_spec = spec_from_config(resolved["model"])
    if model_spec.bandwidth != typed.data.bandwidth:
        raise ValueError(
            f"model.bandwidth={model_spec.bandwidth} but data.bandwidth={typed.data.bandwidth}: "
            "the model's input bandwidth must equal the data's (leave data.bandwidth unset to follow the model)"
        )
    if model_spec.n_classes != typed.data.n_classes:
        raise ValueError(
            f"model.n_classes={model_spec.n_classes} but the data (task={typed.data.task!r}) has "
            f"{typed.data.n_classes} classes"
        )
    resolved["data"] = asdict(typed.data)
    return typed, resolved


def with_data_identity(resolved: dict[str, Any]) -> dict[str, Any]:
    """``resolved`` with its ``data_identity`` (resolved source, content fingerprint), which the run key includes.

    Reads the planar pools (cached per process). Raises
    :class:`eqaug.data.sources.SourceNotFoundError` with a message saying how to get missing data.
    """
    from eqaug.data.sources import data_identity

    data = resolved["data"]
    identity = data_identity(data["dataset"], data["source"], data["root"])
    return {**resolved, records.DATA_IDENTITY_KEY: identity}


class ResultsDirNotWritableError(PermissionError):
    """``results_dir`` cannot be written; raised before anything runs."""


def check_results_dir_writable(results_dir: str | os.PathLike) -> Path:
    """Create ``results_dir`` if needed and prove it writable, or raise a clear error naming it."""
    path = Path(results_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".eqaug-write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise ResultsDirNotWritableError(
            f"results_dir={str(results_dir)!r} is not writable ({type(err).__name__}: {err.strerror or err}); "
            "choose another with results_dir=DIR or fix its permissions"
        ) from err
    return path
