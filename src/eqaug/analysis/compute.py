"""Compute-matched comparison of the converged-baselines experiments (C1, C2 to convergence).

For each study of :data:`COMPUTE_STUDIES`: a figure of the best validation score so far against
optimiser steps, CPU-seconds and training FLOPs (one line per model, mean and min–max band over
seeds, the test score on rotated data as a marker at each model's mean final compute), and two
tables: the score reached at equal CPU time, and the compute each model needs to reach a score
(the best CNN's converged validation score; 90% of the S2CNN's).

A run's curve is its running best validation score (what early stopping and checkpointing keep);
after a run has ended its last value is carried forward, since a converged run would not improve.
CPU-seconds are the run's own (training and validation, one thread, from the history); FLOPs are
optimiser steps × batch size × training FLOPs per sample (:mod:`eqaug.analysis.flops`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eqaug.analysis.summary import MAIN_METRIC
from eqaug.config import is_equivariant_family

#: The studies drawn, with the CPU-minutes at which the equal-compute table reads every model's score.
COMPUTE_STUDIES = {
    "seg_converge_small": (10, 30, 100, 300),
    "cls_converge_small": (10, 30, 100, 300),
    "seg_sweep": (1, 2, 4),
}
#: The default CPU-minutes of the equal-compute table.
CPU_MINUTES = (10, 30, 100, 300)
#: A sentence under a study's figure: what may and may not be concluded from it.
CAPTIONS = {
    "seg_sweep": "600 steps (minutes of CPU) is far from convergence: this shows that every family learns under the "
    "same protocol and what each costs per CPU-second, not which one is better once trained "
    "(for that: seg_converge_small in results/STUDY.md).",
}

__all__ = [
    "COMPUTE_STUDIES",
    "CPU_MINUTES",
    "CAPTIONS",
    "Curve",
    "run_curves",
    "score_at",
    "compute_to_reach",
    "write_compute",
]


@dataclass
class Curve:
    """One run's running-best validation score against its steps, CPU-seconds and training FLOPs."""

    model: str
    family: str
    seed: int
    steps: np.ndarray
    cpu_seconds: np.ndarray
    flops: np.ndarray
    best: np.ndarray
    test_rot: float | None
    converged: bool


def run_curves(records: list[dict[str, Any]], study: str, flops_per_sample: dict[str, float]) -> list[Curve]:
    """The curves of the study's finished runs (``flops_per_sample``: model name → training FLOPs per sample)."""
    out = []
    for r in records:
        if r.get("study") != study or r.get("status") != "finished" or not r.get("history"):
            continue
        cfg = r["config"]
        model, task = cfg["model"]["name"], r.get("task", "seg")
        monitor = MAIN_METRIC[task]
        rows = [h for h in r["history"] if h.get(f"val_{monitor}") is not None]
        if not rows:
            continue
        steps = np.array([h.get("step", 0) for h in rows], dtype=float)
        batch = cfg.get("optim", {}).get("batch_size", 32)
        out.append(
            Curve(
                model=model,
                family=cfg["model"]["family"],
                seed=int(cfg["seed"]),
                steps=steps,
                cpu_seconds=np.array([h.get("cpu_seconds_cum", math.nan) for h in rows], dtype=float),
                flops=steps * batch * flops_per_sample.get(model, math.nan),
                best=np.maximum.accumulate(np.array([h[f"val_{monitor}"] for h in rows], dtype=float)),
                test_rot=((r.get("metrics") or {}).get("test_rot") or {}).get(monitor),
                converged=bool(r.get("stopped_early")),
            )
        )
    return sorted(out, key=lambda c: (c.model, c.seed))


def _value_at(curve: Curve, axis: str, x: float) -> float:
    """The curve's running best at compute ``x`` (NaN before its first check; its last value after its end)."""
    xs = getattr(curve, axis)
    i = int(np.searchsorted(xs, x, side="right")) - 1
    return float(curve.best[i]) if i >= 0 else math.nan


def score_at(curves: list[Curve], axis: str, xs: list[float]) -> pd.DataFrame:
    """Per model and ``x`` on ``axis``: mean, min and max over seeds of the running best score."""
    rows = []
    for model in sorted({c.model for c in curves}):
        runs = [c for c in curves if c.model == model]
        for x in xs:
            vals = np.array([_value_at(c, axis, x) for c in runs])
            ok = vals[~np.isnan(vals)]
            rows.append(
                {
                    "model": model,
                    "x": x,
                    "mean": float(ok.mean()) if ok.size else math.nan,
                    "min": float(ok.min()) if ok.size else math.nan,
                    "max": float(ok.max()) if ok.size else math.nan,
                    "n": int(ok.size),
                }
            )
    return pd.DataFrame(rows)


def compute_to_reach(curves: list[Curve], target: float) -> pd.DataFrame:
    """Per model: seeds that reach ``target`` and the mean steps, CPU-minutes and FLOPs at their first check there."""
    rows = []
    for model in sorted({c.model for c in curves}):
        runs = [c for c in curves if c.model == model]
        hits = [(c, int(np.argmax(c.best >= target))) for c in runs if (c.best >= target).any()]
        rows.append(
            {
                "model": model,
                "reached": f"{len(hits)}/{len(runs)}",
                "steps": float(np.mean([c.steps[i] for c, i in hits])) if hits else math.nan,
                "cpu_minutes": float(np.mean([c.cpu_seconds[i] for c, i in hits])) / 60 if hits else math.nan,
                "gflops": float(np.mean([c.flops[i] for c, i in hits])) / 1e9 if hits else math.nan,
            }
        )
    return pd.DataFrame(rows)


def _final_best(curves: list[Curve], model: str) -> float:
    return float(np.mean([c.best[-1] for c in curves if c.model == model]))


def targets(curves: list[Curve]) -> dict[str, float]:
    """The scores the compute-to-reach table reads: the best CNN's mean converged score, 90% of the S2CNN's."""
    out = {}
    cnns = sorted({c.model for c in curves if not is_equivariant_family(c.family)})
    if cnns:
        best_cnn = max(cnns, key=lambda m: _final_best(curves, m))
        out[f"best CNN ({best_cnn}) converged"] = _final_best(curves, best_cnn)
    s2 = sorted({c.model for c in curves if c.family.startswith("s2cnn")})
    if s2:
        out[f"90% of {s2[0]}"] = 0.9 * _final_best(curves, s2[0])
    return out


def draw(curves: list[Curve], study: str, out_dir: Path, caption: str | None = None) -> list[Path]:
    """``compute_<study>.{png,pdf,json}``: running best validation score vs steps, CPU-minutes, FLOPs."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    from eqaug.analysis.figures import BAND_NOTE, METRIC_LABELS, save_figure
    from eqaug.analysis.style import display_name, family_marker, model_color

    models = sorted({c.model for c in curves}, key=lambda m: (not is_equivariant_family(_family(curves, m)), m))
    monitor = MAIN_METRIC["cls" if study.startswith("cls") else "seg"]
    axes_spec = (
        ("steps", "optimiser steps", 1.0),
        ("cpu_seconds", "CPU-minutes (one thread)", 60.0),
        ("flops", "training PFLOPs", 1e15),
    )
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), sharey=True)
    for ax, (axis, label, unit) in zip(axes, axes_spec):
        for model in models:
            runs = [c for c in curves if c.model == model]
            family = runs[0].family
            hi = max(float(getattr(c, axis)[-1]) for c in runs)
            lo = min(float(getattr(c, axis)[0]) for c in runs)
            xs = np.geomspace(lo, hi, 200) if axis != "steps" else np.linspace(lo, hi, 200)
            frame = score_at(runs, axis, list(xs))
            color = model_color(model, family, models)
            drawn = " drawn at b = 16" if model.endswith("_b16") else ""
            label_m = f"{display_name(model, family)}{drawn} ({len(runs)} seed{'s' * (len(runs) != 1)})"
            ax.plot(xs / unit, frame["mean"], color=color, label=label_m)
            ax.fill_between(xs / unit, frame["min"], frame["max"], color=color, alpha=0.2, linewidth=0)
            tests = [c.test_rot for c in runs if c.test_rot is not None]
            if tests:
                end = np.mean([float(getattr(c, axis)[-1]) for c in runs]) / unit
                ax.plot([end], [np.mean(tests)], marker=family_marker(family), color=color, markeredgecolor="k")
        ax.set_xlabel(label)
        if axis != "steps":
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())  # decade labels only: minor ones overlap
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"best validation {METRIC_LABELS.get(monitor, monitor)} so far")
    axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle(
        f"{study}: score against compute ({BAND_NOTE}; markers: rotated-test score at the mean final compute)",
        fontsize=10,
    )
    if caption:
        fig.text(0.5, -0.04, caption, ha="center", va="top", fontsize=9, wrap=True)
    sidecar = {
        "study": study,
        "caption": caption,
        "used_runs": [f"{c.model} seed {c.seed}" for c in curves],
        "converged": {f"{c.model} seed {c.seed}": c.converged for c in curves},
    }
    return save_figure(fig, out_dir, f"compute_{study}", sidecar)


def _family(curves: list[Curve], model: str) -> str:
    return next(c.family for c in curves if c.model == model)


def write_compute(
    records: list[dict[str, Any]],
    figures_dir: str | os.PathLike,
    tables_dir: str | os.PathLike,
    log: Callable[[str], None] = print,
) -> list[Path]:
    """Figures and tables of every compute study that has finished runs."""
    from eqaug.analysis.flops import training_flops
    from eqaug.analysis.tables import write_table

    written: list[Path] = []
    flops_cache: dict[str, float] = {}
    for study, minutes in COMPUTE_STUDIES.items():
        names = {
            r["config"]["model"]["name"] for r in records if r.get("study") == study and r.get("status") == "finished"
        }
        if not names:
            continue
        for name in names - set(flops_cache):
            flops_cache[name] = training_flops(name)["total"]
        curves = run_curves(records, study, flops_cache)
        written += draw(curves, study, Path(figures_dir), CAPTIONS.get(study))
        at = score_at(curves, "cpu_seconds", [60.0 * m for m in minutes])
        at["cpu_minutes"] = (at["x"] / 60).astype(int)
        equal = at.pivot(index="model", columns="cpu_minutes", values="mean").reset_index()
        equal.columns = ["model"] + [f"@{m} CPU-min" for m in equal.columns[1:]]
        seeds = pd.DataFrame(
            [
                {
                    "model": m,
                    "seeds": sum(c.model == m for c in curves),
                    "converged": sum(c.model == m and c.converged for c in curves),
                    "max steps": int(max(c.steps[-1] for c in curves if c.model == m)),
                    "final best val": _final_best(curves, m),
                    "GFLOPs/sample": flops_cache[m] / 1e9,
                }
                for m in equal["model"]
            ]
        )
        equal = seeds.merge(equal, on="model")
        reach = [compute_to_reach(curves, t).assign(target=f"{name}: {t:.3f}") for name, t in targets(curves).items()]
        reach_frame = pd.concat(reach, ignore_index=True) if reach else pd.DataFrame()
        notes = [
            "Best validation score so far (mean over seeds) after the given CPU time (one thread, training and "
            "validation); a run that had ended by then counts with its final value. `converged`: runs ended by "
            "the convergence rule (the others hit the step cap). Training FLOPs per sample: matrix products and "
            "convolutions counted by torch's FlopCounterMode, FFTs and elementwise arithmetic counted "
            "analytically (eqaug.analysis.flops).",
        ]
        written += write_table(equal, tables_dir, f"compute_{study}", f"{study}: score at equal compute", notes)
        if not reach_frame.empty:
            written += write_table(
                reach_frame,
                tables_dir,
                f"compute_to_reach_{study}",
                f"{study}: compute to reach a score",
                ["Mean over the seeds that reach the target (first validation check at or above it)."],
            )
        log(f"wrote compute_{study} figure and tables ({len(curves)} runs)")
    return written
