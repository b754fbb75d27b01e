"""The expected runs of a study (its experiment's sweep) and which of them have records.

An experiment ``conf/experiment/<name>.yaml`` sweeps over ``hydra.sweeper.params`` (e.g.
``model: a,b``, ``data.n_train: ...``, ``seed: 0,1,2``). :func:`sweep_params` composes the
experiment with Hydra (so inherited sweeps, e.g. ``seg_mnist4`` from ``seg_mnist1``, count) and
parses each value with Hydra's override grammar; :func:`expected_cells` is their Cartesian
product. A record *fills* a cell when its resolved config has the cell's value at every swept key
(``model`` is matched against ``config.model.name``). :func:`coverage` reports, for a set of
cells and records, the finished runs, the missing cells (with the failure of a failed record, if
there is one) and records outside the grid.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

__all__ = [
    "experiment_for_study",
    "sweep_params",
    "expected_cells",
    "record_value",
    "cell_label",
    "Coverage",
    "coverage",
]

Cell = dict[str, Any]


def _conf_dir() -> Path:
    from eqaug.models.registry import conf_dir

    return conf_dir()


def experiment_for_study(study: str, conf_dir: str | os.PathLike | None = None) -> str | None:
    """The experiment whose runs make ``study``: ``conf/experiment/<study>.yaml``, else the one declaring ``study: <study>``."""
    exp_dir = Path(conf_dir or _conf_dir()) / "experiment"
    if (exp_dir / f"{study}.yaml").exists():
        return study
    for path in sorted(exp_dir.glob("*.yaml")):
        for line in path.read_text().splitlines():
            if line.strip() == f"study: {study}" or line.strip().startswith(f"study: {study} "):
                return path.stem
    return None


@cache
def _sweep_params_cached(experiment: str, conf_dir: str) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from eqaug.config import register_configs

    register_configs()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=conf_dir, version_base="1.3"):
            cfg = compose(config_name="train", overrides=[f"experiment={experiment}"], return_hydra_config=True)
        params = dict(cfg.hydra.sweeper.params or {})
    finally:
        GlobalHydra.instance().clear()
    parser = OverridesParser.create()
    out = []
    for key, value in params.items():
        (override,) = parser.parse_overrides([f"{key}={value}"])
        values = tuple(override.sweep_iterator()) if override.is_sweep_override() else (override.value(),)
        out.append((override.key_or_group.lstrip("+~"), values))
    return tuple(out)


def sweep_params(experiment: str, conf_dir: str | os.PathLike | None = None) -> dict[str, list[Any]]:
    """Swept keys of an experiment and their values, in the sweep's order (``{"model": [...], "seed": [0, 1, 2]}``)."""
    return {k: list(v) for k, v in _sweep_params_cached(experiment, str(Path(conf_dir or _conf_dir()).resolve()))}


def expected_cells(params: dict[str, list[Any]]) -> list[Cell]:
    """Cartesian product of the swept values: one dict per expected run."""
    keys = list(params)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(params[k] for k in keys))]


def record_value(record: dict[str, Any], key: str) -> Any:
    """Value of a swept key in a record's resolved config (``model`` → ``config.model.name``); ``None`` if absent."""
    cfg = record.get("config") or {}
    if key == "model":
        model = cfg.get("model") or {}
        return model.get("name") if isinstance(model, dict) else model
    node: Any = cfg
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    return a == b or str(a) == str(b)


def matches(record: dict[str, Any], where: dict[str, Any]) -> bool:
    """Whether a record has ``where``'s value at each of its keys."""
    return all(_same(record_value(record, k), v) for k, v in where.items())


def cell_label(cell: Cell) -> str:
    """Short text of a cell: ``"cnn_seg_1m n_train=60000 seed=2"``."""
    parts = []
    for key, value in cell.items():
        short = key.split(".")[-1]
        parts.append(str(value) if short == "model" else f"{short}={value}")
    return " ".join(parts)


def _group_seeds(cells: list[Cell]) -> list[str]:
    """Labels of cells with their seeds merged: ``"cnn_seg_1m n_train=60000 seeds=1,2"``."""
    groups: dict[str, list[Any]] = {}
    for cell in cells:
        rest = {k: v for k, v in cell.items() if k != "seed"}
        groups.setdefault(cell_label(rest), []).append(cell.get("seed"))
    out = []
    for label, seeds in groups.items():
        if seeds == [None]:
            out.append(label)
        else:
            out.append(f"{label} seed{'s' if len(seeds) > 1 else ''}={','.join(str(x) for x in seeds)}".strip())
    return out


def _failure(record: dict[str, Any]) -> dict[str, str]:
    """``kind`` and first line of ``message`` of a failed record's failure."""
    failure = record.get("failure") or {}
    lines = str(failure.get("message") or "").strip().splitlines()
    return {"kind": str(failure.get("kind") or "?"), "message": lines[0] if lines else ""}


@dataclass
class Coverage:
    """Which expected runs have finished records.

    Attributes
    ----------
    n_expected : number of expected cells (``None``: no experiment config, grid unknown).
    found : run keys of finished records inside the grid (or of all finished ones without a grid).
    missing : one entry per expected cell without a finished record: ``cell``, ``label``,
        ``reason`` (``"no record"`` or ``"failed (<kind>): <message>"``) and ``run_key`` (failed only).
    failed : every failed record among the given ones: ``run_key``, ``kind``, ``message``.
    extra : run keys of finished records outside the grid (still plotted).
    duplicates : cells with more than one finished record (all are used): ``label``, ``run_keys``.
    source : where the grid came from (``conf/experiment/<name>.yaml``) or why there is none.
    """

    n_expected: int | None
    found: list[str] = field(default_factory=list)
    missing: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    source: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "n_expected": self.n_expected,
            "n_found": len(self.found),
            "source": self.source,
            "missing": self.missing,
            "failed": self.failed,
            "extra": self.extra,
            "duplicates": self.duplicates,
        }

    def note(self, max_items: int = 4) -> str | None:
        """One-paragraph footnote for a figure, or ``None`` when nothing is missing."""
        parts = []
        if self.n_expected is None:
            parts.append(f"expected runs unknown ({self.source})")
        if self.missing:
            n_failed = sum(1 for m in self.missing if m.get("run_key"))
            head = f"missing {len(self.missing)} of {self.n_expected} runs"
            if n_failed:
                head += f" ({n_failed} failed)"
            items = [f"{m['label']} [{m['reason']}]" for m in self.missing if m.get("run_key")]
            items += _group_seeds([m["cell"] for m in self.missing if not m.get("run_key")])
            more = f"; … {len(items) - max_items} more" if len(items) > max_items else ""
            items = items[:max_items]
            parts.append(f"{head}: " + "; ".join(items) + more)
        if self.extra:
            parts.append(f"{len(self.extra)} runs outside the sweep (plotted)")
        if self.duplicates:
            parts.append(f"{len(self.duplicates)} sweep points with several records (all plotted)")
        if self.failed and self.n_expected is None:
            parts.append(f"{len(self.failed)} failed runs: " + "; ".join(f["run_key"] for f in self.failed[:max_items]))
        return " — ".join(parts) if parts else None


def coverage(
    records: list[dict[str, Any]],
    cells: list[Cell] | None,
    source: str | None = None,
) -> Coverage:
    """Compare records with the expected cells.

    Parameters
    ----------
    records : run records (finished and failed) of the study, already filtered to the figure.
    cells : the expected cells (``None`` when the study has no experiment config).
    source : text saying where ``cells`` came from (kept in the result).
    """
    finished = [r for r in records if r.get("status") == "finished"]
    failed_records = [r for r in records if r.get("status") != "finished"]
    cov = Coverage(n_expected=None if cells is None else len(cells), source=source)
    cov.failed = [{"run_key": r.get("run_key"), **_failure(r)} for r in failed_records]
    if cells is None:
        cov.found = sorted(r["run_key"] for r in finished)
        return cov
    used: set[str] = set()
    for cell in cells:
        hits = [r for r in finished if matches(r, cell)]
        if hits:
            keys = sorted(r["run_key"] for r in hits)
            cov.found.extend(keys)
            used.update(keys)
            if len(hits) > 1:
                cov.duplicates.append({"label": cell_label(cell), "run_keys": keys})
            continue
        fails = [r for r in failed_records if matches(r, cell)]
        entry: dict[str, Any] = {"cell": cell, "label": cell_label(cell), "reason": "no record"}
        if fails:
            failure = _failure(fails[-1])
            entry["reason"] = f"failed ({failure['kind']}): {failure['message']}".rstrip(": ")
            entry["run_key"] = fails[-1].get("run_key")
        cov.missing.append(entry)
    cov.found = sorted(set(cov.found))
    cov.extra = sorted(r["run_key"] for r in finished if r["run_key"] not in used)
    return cov
