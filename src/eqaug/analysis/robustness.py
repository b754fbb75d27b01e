"""Score against rotation angle and against augmentation strength, from the run records.

* ``robustness_<study>``: the main test metric against the polar tilt of the test items (the ``robustness``
  curve of each record, :mod:`eqaug.training.robustness`), one line per model and training regime, the
  mean over seeds with a min–max band; the Haar-rotated test score as a marker at the right.
* ``augstrength_<study>`` (studies in :data:`AUGSTRENGTH_STUDIES`): the score on Haar-rotated test data
  against the training rotation set (``data.rotation``: none, z, tilt:30, tilt:90, so3), one line per
  non-equivariant model; the equivariant models as horizontal bands (their training regime in the legend).

:func:`add_missing_curves` computes the curve of finished records that lack it from their best checkpoint;
:func:`records_to_rerun` selects those without a checkpoint for :func:`eqaug.training.rerun.rerun_for_curve`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from eqaug.analysis.style import display_name, is_equivariant, model_color, regime_label
from eqaug.analysis.summary import MAIN_METRIC

__all__ = [
    "AUGSTRENGTH_STUDIES",
    "ROTATION_ORDER",
    "robustness_frame",
    "augstrength_frame",
    "write_robustness",
    "add_missing_curves",
    "records_to_rerun",
]

#: Studies whose runs vary the training rotation set (figure ``augstrength_<study>``).
AUGSTRENGTH_STUDIES = ("seg_augstrength_small",)
#: The training rotation sets from weakest to strongest (x axis of the augmentation-strength figure).
ROTATION_ORDER = ("unrotated", "z", "tilt:30", "tilt:90", "rotated")
_ROTATION_TICKS = {"unrotated": "none", "rotated": "so3 (Haar)"}


def _conventions_note(data: dict[str, Any]) -> str:
    """``", gerken2022 data"`` for runs on another generator's conventions (``data.conventions``), else ``""``."""
    conventions = data.get("conventions", "eqaug")
    return "" if conventions == "eqaug" else f", {conventions} data"


def _identity(record: dict[str, Any]) -> dict[str, Any]:
    cfg = record.get("config") or {}
    model, data = cfg.get("model") or {}, cfg.get("data") or {}
    return {
        "study": record.get("study"),
        "model": model.get("name") or model.get("family"),
        "family": model.get("family"),
        "regime": regime_label(data.get("rotate"), data.get("rotation")) + _conventions_note(data),
        "projection_point": data.get("projection_point") or "south_pole",
        "seed": cfg.get("seed"),
        "n_train": data.get("n_train"),
        "lr": (cfg.get("optim") or {}).get("lr"),
    }


# A curve is one (model, training regime, training pose, training size, learning rate): runs differing in any of
# them never share a mean. The figure draws one training size (``_figure_n_train``); the table lists them all.
_CURVE_KEYS = ["model", "regime", "projection_point", "n_train", "lr"]


def _figure_n_train(frame: pd.DataFrame) -> int:
    """The training size the robustness figure draws: the one with the most curves (the smallest of a tie)."""
    others = [k for k in _CURVE_KEYS if k != "n_train"]
    counts = frame.groupby("n_train")[others].apply(lambda g: len(g.drop_duplicates()))
    return int(min(counts.index[counts == counts.max()]))


def _pose_note(projection_point: str) -> str:
    return "" if projection_point == "south_pole" else f" at the {projection_point.replace('_', ' ')}"


def robustness_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per (finished run with a curve, angle): identity, ``angle``, ``score``, ``haar`` (the Haar-rotated
    test score of the model the curve was measured on: the record's, or its re-run's where the curve is a re-run's),
    ``rerun`` (the curve is a re-run's)."""
    rows = []
    for record in records:
        curve = record.get("robustness")
        if record.get("status") != "finished" or not curve:
            continue
        ident = _identity(record)
        metric = curve["metric"]
        # a curve from a re-run (eqaug.training.rerun) sits beside the re-run's own Haar score: one model per line
        source = record.get("robustness_source") or {}
        metrics = source.get("metrics") if source.get("kind") == "rerun" else record.get("metrics")
        haar = ((metrics or {}).get("test_rot") or {}).get(metric)
        for angle, score in zip(curve["angles_deg"], curve["scores"]):
            rows.append(
                {
                    **ident,
                    "metric": metric,
                    "angle": float(angle),
                    "score": float(score),
                    "haar": haar,
                    "rerun": bool(source),
                }
            )
    frame = pd.DataFrame(rows)
    if not frame.empty:  # a record without optim.lr (none of the committed ones) is one curve of its own: lr 0
        frame["lr"] = pd.to_numeric(frame["lr"], errors="coerce").fillna(0.0)
    return frame


def augstrength_frame(records: list[dict[str, Any]], study: str) -> pd.DataFrame:
    """One row per finished run of ``study``: identity and its Haar-rotated test score."""
    rows = []
    for record in records:
        if record.get("study") != study or record.get("status") != "finished":
            continue
        task = record.get("task") or "seg"
        metric = (record.get("metrics") or {}).get("monitor") or MAIN_METRIC[task]
        score = ((record.get("metrics") or {}).get("test_rot") or {}).get(metric)
        if score is not None:
            rows.append({**_identity(record), "metric": metric, "score": float(score)})
    return pd.DataFrame(rows)


def _series(frame: pd.DataFrame, keys: list[str], x: str) -> pd.DataFrame:
    return frame.groupby([*keys, x])["score"].agg(["mean", "min", "max", "count"]).reset_index()


def _draw_robustness(frame: pd.DataFrame, study: str, out_dir: Path) -> list[Path]:
    import matplotlib.pyplot as plt

    n_train = _figure_n_train(frame)
    frame = frame[frame["n_train"] == n_train]
    keys = ["model", "family", "regime", "projection_point", "lr"]
    series = _series(frame, keys, "angle")
    models = sorted(frame["model"].unique())
    poses = sorted(frame["projection_point"].unique(), key=lambda p: (p != "south_pole", p))
    several_lrs = frame.groupby("model")["lr"].nunique() > 1
    fig, ax = plt.subplots(figsize=(7, 4.2))
    order = sorted(series.groupby(keys).groups, key=lambda k: (not is_equivariant(k[1]), k))
    for model, family, regime, pose, lr in order:
        match = dict(zip(keys, (model, family, regime, pose, lr)))
        line = (frame[keys] == pd.Series(match)).all(axis=1)
        s = series[(series[keys] == pd.Series(match)).all(axis=1)]
        color = model_color(model, family, models)
        style = ("-", "-.", ":")[min(poses.index(pose), 2)] if regime.split(",")[0] in ("unrotated", "?") else "--"
        seeds = int(s["count"].max())
        rate = f", lr {lr:g}" if several_lrs.get(model, False) and lr else ""
        label = f"{display_name(model, family)}, trained {regime}{_pose_note(pose)}{rate} ({seeds} seed{'s' * (seeds != 1)})"
        ax.plot(s["angle"], s["mean"], style, color=color, marker="o", markersize=3, label=label)
        ax.fill_between(s["angle"], s["min"], s["max"], color=color, alpha=0.15, linewidth=0)
        haar = frame[line].groupby("seed")["haar"].first()
        if haar.notna().any():
            ax.plot([202], [haar.mean()], marker="D", color=color, markeredgecolor="k", clip_on=False)
    ax.set_xticks(list(range(0, 181, 30)) + [202], [*(f"{a}°" for a in range(0, 181, 30)), "Haar"])
    ax.set_xlabel("polar tilt of the test items away from the training pose")
    title = f"{study}, n = {n_train:,}: score against rotation angle"
    return _finish(fig, ax, frame, out_dir, f"robustness_{study}", "test {}", title)


def _draw_augstrength(frame: pd.DataFrame, study: str, out_dir: Path) -> list[Path]:
    import matplotlib.pyplot as plt

    models = sorted(frame["model"].unique())
    xs = {r: i for i, r in enumerate(ROTATION_ORDER)}
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for (model, family), runs in frame.groupby(["model", "family"]):
        color = model_color(model, family, models)
        if is_equivariant(family):
            for regime, sub in runs.groupby("regime"):
                lo, mean, hi = sub["score"].min(), sub["score"].mean(), sub["score"].max()
                ax.axhspan(lo, hi, color=color, alpha=0.15, linewidth=0)
                label = f"{display_name(model, family)}, trained {regime} ({len(sub)} seeds)"
                ax.axhline(mean, color=color, linestyle=":", label=label)
            continue
        s = _series(runs[runs["regime"].isin(xs)], ["model"], "regime")
        s = s.assign(x=s["regime"].map(xs)).sort_values("x")
        seeds = int(s["count"].max()) if len(s) else 0
        ax.plot(s["x"], s["mean"], "-o", color=color, label=f"{display_name(model, family)} ({seeds} seeds)")
        ax.fill_between(s["x"], s["min"], s["max"], color=color, alpha=0.2, linewidth=0)
    ax.set_xticks(range(len(ROTATION_ORDER)), [_ROTATION_TICKS.get(r, r) for r in ROTATION_ORDER])
    ax.set_xlabel("rotations of the training data (data.rotation)")
    title = f"{study}: score against augmentation strength"
    return _finish(fig, ax, frame, out_dir, f"augstrength_{study}", "{} on Haar-rotated test data", title)


def _finish(fig: Any, ax: Any, frame: pd.DataFrame, out_dir: Path, stem: str, ylabel: str, title: str) -> list[Path]:
    """y label (``ylabel`` formatted with the metric's name), grid, legend, title; save with the runs used."""
    from eqaug.analysis.figures import BAND_NOTE, METRIC_LABELS, save_figure

    metric = frame["metric"].iloc[0]
    ax.set_ylabel(ylabel.format(METRIC_LABELS.get(metric, metric)))
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    ax.set_title(f"{title} ({BAND_NOTE})", fontsize=9)
    sidecar = {
        "study": frame["study"].iloc[0],
        "used_runs": sorted(set(frame[[*_CURVE_KEYS, "seed"]].itertuples(False, None))),
    }
    return save_figure(fig, out_dir, stem, sidecar)


def _robustness_table(frame: pd.DataFrame) -> pd.DataFrame:
    mean = frame.groupby([*_CURVE_KEYS, "angle"])["score"].mean().unstack("angle")
    mean.columns = [f"{a:g}°" for a in mean.columns]
    seeds = frame.groupby(_CURVE_KEYS)["seed"].nunique().rename("seeds")
    haar = frame.groupby([*_CURVE_KEYS, "seed"])["haar"].first().groupby(_CURVE_KEYS).mean()
    table = pd.concat([seeds, mean, haar.rename("Haar")], axis=1).reset_index()
    return table.assign(lr=table["lr"].map(lambda lr: f"{lr:g}" if lr else "?"))


def _rerun_notes(frame: pd.DataFrame) -> list[str]:
    """Which curves come from re-runs of committed records (records without a checkpoint)."""
    runs = frame.drop_duplicates([*_CURVE_KEYS, "seed"])
    reruns = runs[runs["rerun"]]
    if reruns.empty:
        return []
    return [
        f"{len(reruns)} of the {len(runs)} curves are from re-runs of committed records that have no checkpoint "
        "(`python -m eqaug.analysis robustness --rerun`: the same run key trained again; the record keeps its own "
        "metrics, `robustness_source` the re-run's); their `Haar` is the re-run's own score, so that a curve and "
        "its Haar score are of one model. Runs trained on another CPU or under older code re-run to other "
        "floating-point values (`robustness_source.same_metrics`)."
    ]


def write_robustness(
    records: list[dict[str, Any]], out_dir: str | os.PathLike, log: Callable[[str], None] = print
) -> list[Path]:
    """The robustness figure and table of every study with curves, and the augmentation-strength ones, into
    ``out_dir/figures`` and ``out_dir/tables``."""
    from eqaug.analysis.tables import write_table

    figures_dir, tables_dir = Path(out_dir) / "figures", Path(out_dir) / "tables"
    written: list[Path] = []
    curves = robustness_frame(records)
    for study in sorted(curves["study"].unique()) if not curves.empty else []:
        frame = curves[curves["study"] == study]
        written += _draw_robustness(frame, study, figures_dir)
        notes = [
            "Mean over seeds of the main test metric on the test items tilted by exactly the given polar angle "
            "(random azimuth and about-axis angle per sample, the same items at every angle; "
            "eqaug.training.robustness). `Haar`: the run's Haar-rotated test score.",
            *_rerun_notes(frame),
        ]
        table = _robustness_table(frame)
        written += write_table(
            table, tables_dir, f"robustness_{study}", f"{study}: score against rotation angle", notes
        )
        log(
            f"wrote robustness_{study} figure and table ({frame[['model', 'regime', 'seed']].drop_duplicates().shape[0]} runs)"
        )
    for study in AUGSTRENGTH_STUDIES:
        frame = augstrength_frame(records, study)
        if frame.empty:
            continue
        written += _draw_augstrength(frame, study, figures_dir)
        table = frame.groupby(["model", "regime"])["score"].agg(["count", "mean", "min", "max"]).reset_index()
        table = table.rename(columns={"count": "seeds", "regime": "training rotations"})
        notes = ["Score on Haar-rotated test data (`test_rot`), over seeds, per training rotation set (data.rotation)."]
        written += write_table(table, tables_dir, f"augstrength_{study}", f"{study}: score against augmentation", notes)
        log(f"wrote augstrength_{study} figure and table ({len(frame)} runs)")
    return written


def add_missing_curves(
    results_dir: str | os.PathLike,
    studies: list[str] | None = None,
    angles: list[float] | None = None,
    batch_size: int = 32,
    log: Callable[[str], None] = print,
) -> tuple[int, int]:
    """Add the ``robustness`` curve to finished records that lack it, from their best checkpoint.

    Returns ``(added, without_checkpoint)``; each record is rewritten atomically.
    """
    from eqaug.analysis.predictions import find_checkpoint, model_from_checkpoint
    from eqaug.data.spec import DataSpec
    from eqaug.training.records import iter_records, write_json_atomic
    from eqaug.training.robustness import robustness_curve
    from eqaug.training.schema import ROBUSTNESS_ANGLES

    added = missing = 0
    for path, record in iter_records(results_dir):
        if record.get("status") != "finished" or record.get("robustness"):
            continue
        if studies and record.get("study") not in studies:
            continue
        ckpt = find_checkpoint(record, results_dir)
        if ckpt is None:
            missing += 1
            continue
        model = model_from_checkpoint(ckpt, record)
        spec = DataSpec.from_config(record["config"]["data"])  # robustness_curve scores without gradients
        record["robustness"] = robustness_curve(model, spec, list(angles or ROBUSTNESS_ANGLES), batch_size)
        write_json_atomic(path, record)
        added += 1
        log(f"robustness of {record['run_key']}: {' '.join(f'{s:.3f}' for s in record['robustness']['scores'])}")
    return added, missing


def records_to_rerun(
    results_dir: str | os.PathLike,
    studies: list[str] | None = None,
    models: list[str] | None = None,
    seeds: list[int] | None = None,
    n_train: list[int] | None = None,
) -> list[Path]:
    """Finished records without a curve, selected by study, model name, seed and training size (``None``: any).

    A run shared by two studies (the same key) is listed once, under the first study in sorted order.
    """
    from eqaug.training.records import iter_records

    seen, out = set(), []
    for path, record in sorted(iter_records(results_dir), key=lambda pr: str(pr[0])):
        cfg = record.get("config", {})
        if record.get("status") != "finished" or record.get("robustness") or record["run_key"] in seen:
            continue
        if (
            (studies and record.get("study") not in studies)
            or (models and cfg.get("model", {}).get("name") not in models)
            or (seeds is not None and cfg.get("seed") not in seeds)
            or (n_train is not None and cfg.get("data", {}).get("n_train") not in n_train)
        ):
            continue
        seen.add(record["run_key"])
        out.append(path)
    return out
