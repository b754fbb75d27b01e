"""Job plans of the study runner: which Hydra multiruns a job set is made of, as data.

A plan is ``conf/plans/<set>.yaml``::

    overrides: [trainer.threads=1]            # added to every job of the set
    jobs:                                     # in priority order
      - {experiment: seg_mnist1_small, model: s2cnn_seg_204k_small, overrides: [seed=0]}
      - {experiment: seg_mnist1_small, model: gscnn_seg_small, each: {data.n_train: [1000, 3000], seed: [1, 2]}}
      - {experiment: seg_lr_small, model: zonal_seg_small, overrides: [optim.lr=0.03], extends: [optim.lr]}

A job is one ``python -m eqaug.train -m experiment=<experiment> [model=<model>] <overrides>``: the
experiment's sweep with the job's model and overrides fixed. ``each`` expands an entry into one job
per combination of its values, the first key outermost (``model`` may be one of its keys). A job's
fixed values must be values of the sweep (a typo would silently add runs), except for the keys it names
in ``extends``: there it adds runs beyond the sweep (e.g. a learning rate beyond the grid's edge, or a
reference model the sweep does not list: ``extends: [model]``).
"""

from __future__ import annotations

import itertools
import re
import sys
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from eqaug.paths import CONF_DIR

__all__ = ["Job", "Plan", "plan_names", "load_plan", "job_runs", "study_of", "expected_runs", "commands"]


class Job(NamedTuple):
    """One Hydra multirun of a plan."""

    experiment: str
    model: str | None
    overrides: tuple[str, ...]
    #: swept keys whose fixed value may lie outside the sweep (the job adds runs to it)
    extends: tuple[str, ...] = ()


class Plan(NamedTuple):
    """A job set: its jobs in order and the overrides every job gets."""

    name: str
    jobs: list[Job]
    overrides: tuple[str, ...]


def _plan_dir(conf_dir: Path | None) -> Path:
    return (conf_dir or CONF_DIR) / "plans"


def plan_names(conf_dir: Path | None = None) -> list[str]:
    """The job sets there are plans for (``conf/plans/*.yaml``)."""
    return sorted(p.stem for p in _plan_dir(conf_dir).glob("*.yaml"))


def _expand(entry: dict[str, Any], where: str) -> list[Job]:
    allowed = {"experiment", "model", "overrides", "each", "extends"}
    unknown = set(entry) - allowed
    if unknown or "experiment" not in entry:
        raise ValueError(
            f"{where}: a job needs 'experiment' and may have {sorted(allowed - {'experiment'})}; got {entry}"
        )
    base = tuple(str(o) for o in entry.get("overrides") or ())
    each = entry.get("each") or {}
    if not isinstance(each, dict) or not all(isinstance(v, list) and v for v in each.values()):
        raise ValueError(f"{where}: 'each' must map keys to non-empty lists of values; got {each!r}")
    extends = entry.get("extends") or []
    if not isinstance(extends, list) or not all(isinstance(k, str) for k in extends):
        raise ValueError(f"{where}: 'extends' must be a list of swept keys; got {extends!r}")
    jobs = []
    for values in itertools.product(*each.values()):
        chosen = dict(zip(each, values))
        model = chosen.pop("model", entry.get("model"))
        extra = tuple(f"{k}={v}" for k, v in chosen.items())
        fixed = {o.split("=", 1)[0] for o in base + extra} | ({"model"} if model is not None else set())
        if set(extends) - fixed:
            raise ValueError(f"{where}: 'extends' names {sorted(set(extends) - fixed)}, which the job does not fix")
        job = Job(str(entry["experiment"]), None if model is None else str(model), base + extra, tuple(extends))
        jobs.append(job)
    return jobs


def load_plan(name: str, conf_dir: Path | None = None) -> Plan:
    """The plan ``conf/plans/<name>.yaml`` (a clear error naming the known plans if there is none)."""
    path = _plan_dir(conf_dir) / f"{name}.yaml"
    if not path.exists():
        raise ValueError(f"no job plan {name!r} ({path}); the plans are: {', '.join(plan_names(conf_dir))}")
    data = yaml.safe_load(path.read_text()) or {}
    jobs = [job for i, entry in enumerate(data.get("jobs") or []) for job in _expand(entry, f"{path} job {i}")]
    return Plan(name, jobs, tuple(str(o) for o in data.get("overrides") or ()))


def job_runs(
    experiment: str, model: str | None, overrides: tuple[str, ...], extends: tuple[str, ...] = ()
) -> list[dict]:
    """The cells of the experiment's sweep that one job runs (its model and fixed overrides); a key in
    ``extends`` takes the job's value in place of the sweep's values (runs beyond the sweep)."""
    from eqaug.analysis.expected import expected_cells, sweep_params

    fixed = dict(o.split("=", 1) for o in overrides)
    params = sweep_params(experiment)
    for key in extends:
        if key not in params:
            raise ValueError(f"{experiment}: 'extends' names {key!r}, which its sweep does not have ({sorted(params)})")
        params[key] = [model] if key == "model" else [_typed(fixed[key])]
    cells = expected_cells(params)
    return [
        c for c in cells if (model is None or c["model"] == model) and all(str(c.get(k)) == v for k, v in fixed.items())
    ]


def _typed(value: str) -> Any:
    """A command-line value as the sweep would hold it (int, float, else the string)."""
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def study_of(experiment: str) -> str:
    """The study an experiment's runs are recorded under: the ``study:`` line of
    ``conf/experiment/<experiment>.yaml``, else the experiment's name."""
    path = CONF_DIR / "experiment" / f"{experiment}.yaml"
    if path.exists():
        for line in path.read_text().splitlines():
            m = re.match(r"study:\s*([\w.-]+)", line)
            if m:
                return m.group(1)
    return experiment


def expected_runs(jobs: list[Job]) -> list[tuple[str, dict]]:
    """``(study, cell)`` of every run of the jobs' sweeps, once each (a seed-0 job and its sweep share runs)."""
    out, seen = [], set()
    for job in jobs:
        study = study_of(job.experiment)
        for cell in job_runs(*job):
            key = (study, tuple(sorted((k, repr(v)) for k, v in cell.items())))
            if key not in seen:
                seen.add(key)
                out.append((study, cell))
    return out


def commands(
    jobs: list[Job], results_dir: str, extra: list[str], base: tuple[str, ...] = (), only: set[str] | None = None
) -> list[list[str]]:
    """The command line of every job (of the experiments in ``only``, if given)."""
    out = []
    for experiment, model, overrides, _ in jobs:
        if only and experiment not in only:
            continue
        out.append(
            [
                sys.executable,
                "-m",
                "eqaug.train",
                "-m",
                f"experiment={experiment}",
                *([f"model={model}"] if model else []),
                *overrides,
                *base,
                "trainer.enable_progress_bar=false",
                f"results_dir={results_dir}",
                *extra,
            ]
        )
    return out
