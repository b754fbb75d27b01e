"""Tables as Markdown and CSV (``results/tables/``): latency/throughput (Tables 1–2), per-layer and
per-operator profiles (Tables 6–7), training time to a target score (Table 3) and parameter counts.

Latency and profile tables are rendered from the benchmark JSON (``results/bench/latency.json``,
``results/bench/profile.json``), so ``make figures`` re-renders them without re-measuring; the
time-to-threshold table comes from the run records' per-epoch history.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import pandas as pd

from eqaug.analysis.style import display_name, regime_label
from eqaug.analysis.summary import MAIN_METRIC
from eqaug.config import is_equivariant_family
from eqaug.training.callbacks import time_to_threshold

__all__ = [
    "to_markdown",
    "write_table",
    "latency_frame",
    "profile_frames",
    "time_to_threshold",
    "threshold_frame",
    "threshold_summary",
    "format_duration",
    "params_frame",
    "PAPER_PARAMS",
]

#: Parameter counts of the paper's published architectures (Gerken et al. 2022, Tables 4–5).
PAPER_PARAMS = {"cnn_seg_218k": 218_144, "cnn_seg_1m": 1_042_013, "cnn_seg_5m5": 5_519_335, "s2cnn_seg_204k": 204_073}


def _fmt(value: Any, digits: int | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and digits is not None:
        return f"{value:,.{digits}f}" if abs(value) >= 1000 else f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value).replace("|", "\\|")


def to_markdown(frame: pd.DataFrame, digits: dict[str, int] | None = None, default_digits: int = 3) -> str:
    """A GitHub pipe table of ``frame`` (floats rounded per column; ``None``/NaN left empty)."""
    digits = digits or {}
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in frame.itertuples(index=False):
        cells = []
        for col, value in zip(cols, row):
            if hasattr(value, "item") and not isinstance(value, (str, bytes)):
                value = value.item()
            cells.append(_fmt(value, digits.get(col, default_digits)))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_table(
    frame: pd.DataFrame,
    out_dir: str | os.PathLike,
    name: str,
    title: str,
    notes: list[str] | None = None,
    digits: dict[str, int] | None = None,
    markdown: str | None = None,
) -> list[Path]:
    """Write ``<name>.csv`` (the frame) and ``<name>.md`` (title, notes, the table or ``markdown``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv, md = out / f"{name}.csv", out / f"{name}.md"
    frame.to_csv(csv, index=False, float_format="%.6g")
    body = markdown if markdown is not None else to_markdown(frame, digits)
    text = f"# {title}\n\n" + "".join(f"{n}\n\n" for n in notes or []) + body + "\n"
    md.write_text(text)
    return [csv, md]


def _meta_note(meta: dict[str, Any]) -> str:
    keys = ("cpu", "cuda", "threads", "torch", "python", "date", "command")
    return "Measured with " + ", ".join(f"{k}: `{meta.get(k)}`" for k in keys if meta.get(k) is not None) + "."


# -- latency (Tables 1–2) ---------------------------------------------------------------------------


def latency_frame(payload: dict[str, Any]) -> pd.DataFrame:
    """One row per (device, model, batch size) of a ``latency.json`` payload."""
    rows = [
        {
            "model": r["model"],
            "name": display_name(r["model"], r["family"]),
            "family": r["family"],
            "scale": r["scale"],
            "bandwidth": r["bandwidth"],
            "params": r["params"],
            "device": r["device"],
            "threads": r["threads"],
            "batch": r["batch_size"],
            "latency_ms": r["median_s"] * 1e3,
            "iqr_ms": r["iqr_s"] * 1e3,
            "ms_per_sample": r["median_s"] * 1e3 / r["batch_size"],
            "throughput_per_s": r["throughput_per_s"],
            "n_times": r["n_times"],
        }
        for r in payload["results"]
    ]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame["_eq"] = ~frame["family"].map(is_equivariant_family)
    frame = frame.sort_values(["device", "scale", "_eq", "family", "params", "model", "batch"])
    return frame.drop(columns="_eq").reset_index(drop=True)


def write_latency_tables(payload: dict[str, Any], out_dir: str | os.PathLike) -> list[Path]:
    """``latency.{md,csv}`` from a latency payload."""
    frame = latency_frame(payload)
    meta = payload.get("meta", {})
    notes = [
        "Inference (forward, eval, `torch.no_grad`) latency per call: median and interquartile range over "
        f"`torch.utils.benchmark.Timer` measurements (≥ {meta.get('min_repeats')} timings, "
        f"`blocked_autorange(min_run_time={meta.get('min_run_time')})` after {meta.get('warmup')} warm-up calls); "
        "throughput = batch / median latency. Gerken et al. 2022 Tables 1–2 report the same on a GPU.",
        _meta_note(meta),
        "Made by `python -m eqaug.analysis latency` (`make bench`).",
    ]
    digits = {"latency_ms": 2, "iqr_ms": 2, "ms_per_sample": 2, "throughput_per_s": 1}
    return write_table(frame, out_dir, "latency", "Inference latency and throughput vs batch size", notes, digits)


# -- profiles (Tables 6–7) --------------------------------------------------------------------------


def profile_frames(payload: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(layers, ops, stages)`` tables of a ``profile.json`` payload (one block of rows per model)."""
    layers, ops, stages = [], [], []
    for p in payload["profiles"]:
        for r in p["layers"]:
            bands = f"{r['b_in']}→{r['b_out']}" if r.get("b_in") is not None else ""
            feats = f"{r['f_in']}→{r['f_out']}" if r.get("f_in") is not None else ""
            layers.append(
                {
                    "model": p["model"],
                    "layer": r["layer"],
                    "type": r["type"],
                    "direction": r.get("direction"),
                    "bandwidth": bands,
                    "channels": feats,
                    "ms": r["ms"],
                    "share_pct": r["share"],
                }
            )
        for r in p["ops"]:
            ops.append(
                {
                    "model": p["model"],
                    "op": r["op"],
                    "calls_per_step": r["calls"],
                    "ms": r["ms"],
                    "share_pct": r["share"],
                }
            )
        for r in p.get("stages", []):
            stages.append(
                {
                    "model": p["model"],
                    "stage": r["stage"],
                    "description": r["description"],
                    "calls_per_step": r["calls"],
                    "ms": r["ms"],
                    "share_pct": r["share"],
                }
            )
    return pd.DataFrame(layers), pd.DataFrame(ops), pd.DataFrame(stages)


def write_profile_tables(payload: dict[str, Any], out_dir: str | os.PathLike) -> list[Path]:
    """``profile_layers``, ``profile_ops`` and ``profile_stages`` (``.md`` and ``.csv``)."""
    layers, ops, stages = profile_frames(payload)
    meta = payload.get("meta", {})
    per_model = "; ".join(
        f"{p['model']}: {p['step_ms']:.1f} ms per profiled step (batch {p['batch_size']})" for p in payload["profiles"]
    )
    common = [
        f"Steady state: {meta.get('warmup')} unprofiled forwards, then {meta.get('steps')} profiled forwards "
        f"(`torch.profiler`, CPU time, times per step). {per_model}. Profiler overhead inflates small ops.",
        _meta_note(meta),
        "Made by `python -m eqaug.analysis profile` (`make bench`).",
    ]
    digits = {"ms": 2, "share_pct": 1, "calls_per_step": 0}
    files = write_table(
        layers,
        out_dir,
        "profile_layers",
        "Per-layer share of inference time (cf. Gerken et al. 2022, Table 6)",
        [
            "Inclusive CPU time of each top-level layer (forward hooks opening `torch.profiler.record_function` "
            "ranges; the model is not modified), share of the step; `(between layers)` is the rest (ReLUs, glue), "
            "so each model's shares sum to 100%.",
            *common,
        ],
        digits,
    )
    files += write_table(
        ops,
        out_dir,
        "profile_ops",
        "Per-operator share of inference time (cf. Gerken et al. 2022, Table 7)",
        [
            "Self CPU time per operator from `key_averages()`, the top operators and `(other)` (every other "
            "operator and the profiler's ranges), share of the total self time (sums to 100% per model). Our s2cnn "
            "is pure PyTorch, so its work shows as `aten::` FFT, matmul and copy operators; see "
            "`profile_stages` for the s2cnn transforms.",
            *common,
        ],
        digits,
    )
    if not stages.empty:
        files += write_table(
            stages,
            out_dir,
            "profile_stages",
            "Share of inference time per s2cnn stage (harmonic transforms vs the rest)",
            [
                "Inclusive CPU time of the s2cnn transforms the layers call (wrapped in profiler ranges while "
                "profiling), share of the step; `(rest)` is everything else (per-degree products (real GEMMs), "
                "kernel spectra, bias, ReLUs). Gerken et al.'s CUDA s2cnn: SO3_mm 45%, SO3_ifft_real 16%, "
                "SO3_fft_real 14%.",
                *common,
            ],
            digits,
        )
    return files


# -- time to threshold (Table 3) --------------------------------------------------------------------


def format_duration(seconds: float | None) -> str:
    """``45.2`` → ``"45s"``, ``192`` → ``"3m 12s"``, ``54000`` → ``"15h 00m"`` (empty for ``None``/NaN)."""
    if seconds is None or seconds != seconds:
        return ""
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m {int(round(seconds % 60)):02d}s"
    return f"{int(seconds // 3600)}h {int(round(seconds % 3600 / 60)):02d}m"


def _targets_for(record: dict[str, Any], targets: dict[str, list[float]] | None) -> list[float]:
    study = record.get("study")
    if targets:
        chosen = targets.get(study) or targets.get("*")
        if chosen:
            return list(chosen)
    own = ((record.get("timing") or {}).get("time_to_threshold") or {}).get("target")
    own = own if own is not None else (record.get("config") or {}).get("target")
    return [float(own)] if own is not None else []


def threshold_frame(records: list[dict[str, Any]], targets: dict[str, list[float]] | None = None) -> pd.DataFrame:
    """Time to each target per finished run.

    Parameters
    ----------
    records : run records.
    targets : targets per study (key ``"*"``: every study); a study without one uses its records'
        own ``target`` (the experiment's), and is left out if there is none.
    """
    rows = []
    for rec in records:
        if rec.get("status") != "finished":
            continue
        cfg = rec.get("config") or {}
        model = cfg.get("model") or {}
        data = cfg.get("data") or {}
        task = rec.get("task") or data.get("task")
        monitor = (rec.get("metrics") or {}).get("monitor") or MAIN_METRIC.get(task)
        history = rec.get("history") or []
        recorded = (rec.get("timing") or {}).get("time_to_threshold") or {}
        for target in _targets_for(rec, targets):
            hit = time_to_threshold(history, monitor, target)
            if not history and recorded.get("target") == target:  # no history kept: the record's own answer
                hit = {**recorded, "reached": recorded.get("epoch") is not None}
            rows.append(
                {
                    "study": rec.get("study"),
                    "model": model.get("name"),
                    "family": model.get("family"),
                    "regime": regime_label(data.get("rotate")),
                    "n_train": data.get("n_train"),
                    "seed": cfg.get("seed"),
                    "metric": monitor,
                    "target": target,
                    "reached": hit["reached"],
                    "epoch": hit["epoch"],
                    "step": hit.get("step"),
                    "wall_seconds": hit["wall_seconds"],
                    "train_seconds": hit["train_seconds"],
                    "cpu_seconds": hit.get("cpu_seconds"),
                    "epochs_run": len(history),
                    "best_val": max(
                        (r[f"val_{monitor}"] for r in history if r.get(f"val_{monitor}") is not None), default=None
                    ),
                    "test_rot": ((rec.get("metrics") or {}).get("test_rot") or {}).get(monitor),
                    "run_key": rec.get("run_key"),
                }
            )
    cols = [
        "study", "model", "family", "regime", "n_train", "seed", "metric", "target", "reached", "epoch", "step",
        "wall_seconds", "train_seconds", "cpu_seconds", "epochs_run", "best_val", "test_rot", "run_key",
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=cols)
    return frame.sort_values(["study", "target", "family", "model", "n_train", "seed"]).reset_index(drop=True)


def threshold_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (study, target, model, regime, n_train): runs, how many reached the target, and the median,
    min and max wall time (hours) of those that did, with the mean rotated-test score."""
    rows = []
    keys = ["study", "metric", "target", "model", "family", "regime", "n_train"]
    for key, group in frame.groupby(keys, sort=True, dropna=False):
        hit = group[group["reached"]]
        secs = hit["wall_seconds"].astype(float)
        rows.append(
            {
                **dict(zip(keys, key)),
                "runs": len(group),
                "reached": len(hit),
                "epoch_median": float(hit["epoch"].astype(float).median()) if len(hit) else None,
                "seconds_median": float(secs.median()) if len(hit) else None,
                "seconds_min": float(secs.min()) if len(hit) else None,
                "seconds_max": float(secs.max()) if len(hit) else None,
                "step_median": _median(hit["step"]) if len(hit) else None,
                "cpu_seconds_median": _median(hit["cpu_seconds"]) if len(hit) else None,
                "test_rot_mean": float(group["test_rot"].astype(float).mean()),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            *keys,
            "runs",
            "reached",
            "epoch_median",
            "seconds_median",
            "seconds_min",
            "seconds_max",
            "step_median",
            "cpu_seconds_median",
            "test_rot_mean",
        ],
    )


def _median(values: pd.Series) -> float | None:
    v = pd.to_numeric(values, errors="coerce").astype(float).dropna()
    return float(v.median()) if len(v) else None


def write_threshold_tables(
    records: list[dict[str, Any]], out_dir: str | os.PathLike, targets: dict[str, list[float]] | None = None
) -> list[Path]:
    """``time_to_threshold.{md,csv}`` (per run in the CSV; per configuration and fastest per model in the Markdown)."""
    frame = threshold_frame(records, targets)
    summary = threshold_summary(frame)
    summary = summary.assign(
        time_median=summary["seconds_median"].map(format_duration),
        cpu_median=summary["cpu_seconds_median"].map(format_duration),
        time_range=[
            f"{format_duration(a)} – {format_duration(b)}" if a == a and a is not None else ""
            for a, b in zip(summary["seconds_min"], summary["seconds_max"])
        ],
    )
    parts = []
    for (study, metric, target), group in summary.groupby(["study", "metric", "target"], sort=True):
        parts.append(f"## {study}: time to {metric} ≥ {target:g}\n")
        fastest = group[group["reached"] > 0].sort_values("seconds_median").groupby("model", sort=False).head(1)
        if not fastest.empty:
            parts.append("Fastest configuration per model (cf. Table 3: training time at matched accuracy):\n")
            cols = ["model", "regime", "n_train", "reached", "runs", "step_median", "time_median", "cpu_median"]
            cols.append("test_rot_mean")
            parts.append(to_markdown(fastest[cols], {"test_rot_mean": 4, "step_median": 0}) + "\n")
        else:
            parts.append("No run reached the target.\n")
        parts.append("All configurations:\n")
        cols = [
            "model",
            "regime",
            "n_train",
            "runs",
            "reached",
            "epoch_median",
            "step_median",
            "time_median",
            "time_range",
            "cpu_median",
            "test_rot_mean",
        ]
        parts.append(to_markdown(group[cols], {"test_rot_mean": 4, "epoch_median": 1, "step_median": 0}) + "\n")
    notes = [
        "First epoch whose validation score reaches the target, from each record's per-epoch history; time = "
        "cumulative wall time of training and validation up to that epoch (median and range over the seeds "
        "that reached it); `cpu_median`: the same in CPU time of the training process (one thread per run, so "
        "it is the compute spent, and it does not count time the process waited); `step_median`: optimiser "
        "steps. `test_rot_mean` is the mean rotated-test score of the configuration's runs. "
        "The CSV has one row per run. Targets: the experiments' `target` unless given with "
        "`python -m eqaug.analysis --target [STUDY=]VALUE`.",
    ]
    body = "\n".join(parts) if parts else "No finished run with a target."
    return write_table(frame, out_dir, "time_to_threshold", "Training time to a target score", notes, markdown=body)


# -- parameter counts -------------------------------------------------------------------------------


def params_frame(names: list[str] | None = None) -> pd.DataFrame:
    """Parameter counts of the named models (built from ``conf/model``), with the paper's where published."""
    from eqaug.models import as_spec, build_model, count_params, model_names

    rows = []
    for name in names or model_names():
        spec = as_spec(name)
        rows.append(
            {
                "model": name,
                "name": display_name(name, spec.family),
                "family": spec.family,
                "equivariant": is_equivariant_family(spec.family),
                "bandwidth": spec.bandwidth,
                "params": count_params(build_model(spec)),
                "paper_params": PAPER_PARAMS.get(name),
            }
        )
    frame = pd.DataFrame(rows)
    frame["paper_params"] = pd.array(frame["paper_params"], dtype="Int64")
    return frame


def write_params_table(out_dir: str | os.PathLike, names: list[str] | None = None) -> list[Path]:
    """``params.{md,csv}``."""
    frame = params_frame(names)
    notes = [
        "Trainable parameters of every named model (`conf/model/*.yaml`, built with `eqaug.models.build_model`); "
        "`paper_params`: the count of the paper's published architecture (Gerken et al. 2022, Tables 4–5). "
        "`_small` twins take b = 16 inputs; `_tiny` models are for tests.",
        "Made by `python -m eqaug.analysis` (`make figures`).",
    ]
    return write_table(frame, out_dir, "params", "Parameter counts", notes)


# -- per-study results (the numbers results/STUDY.md quotes) ---------------------------------------


def study_frame(summary: pd.DataFrame, study: str) -> pd.DataFrame:
    """Seed statistics of one study's finished runs: per (model, regime, placement, n_train), the number
    of seeds, mean / min / max of the monitored test score on rotated and on unrotated data
    (:func:`~eqaug.analysis.summary.aggregate_seeds`), the mean number of optimiser steps and training
    wall time, and how many runs early stopping ended."""
    from eqaug.analysis.summary import aggregate_seeds

    keys = ["model", "regime", "projection_point", "n_train"]
    rows = summary[(summary["study"] == study) & (summary["status"] == "finished")]
    per_run = rows.assign(
        steps=rows["steps"].astype(float),
        train_s=pd.to_numeric(rows["train_seconds"], errors="coerce").astype(float),
        stopped=rows["stopped_early"].astype(bool).astype(int),
    )
    frame = (
        per_run.groupby(keys, dropna=False)
        .agg(
            seeds=("run_key", "size"), steps=("steps", "mean"), train_s=("train_s", "mean"), stopped=("stopped", "sum")
        )
        .reset_index()
    )
    scores = []
    for split in ("test_rot", "test_unrot"):
        agg = aggregate_seeds(rows, f"{split}_score", tuple(keys))[[*keys, "mean", "min", "max"]]
        agg = agg.rename(columns={c: f"{split} {c}" for c in ("mean", "min", "max")})
        frame = frame.merge(agg, on=keys, how="left")
        scores += list(agg.columns[len(keys) :])
    frame = frame.rename(columns={"train_s": "train s", "stopped": "stopped early"})
    return frame[[*keys, "seeds", *scores, "steps", "train s", "stopped early"]]


def write_study_tables(summary: pd.DataFrame, out_dir: str | os.PathLike) -> list[Path]:
    """``study_<study>.{csv,md}`` for every study with finished runs."""
    written: list[Path] = []
    for study in sorted(summary.loc[summary["status"] == "finished", "study"].dropna().unique()):
        frame = study_frame(summary, study)
        notes = [
            "Test score = non-background mIoU (segmentation) or accuracy (classification) of the best "
            "validation checkpoint; mean, min and max over seeds. `steps`, `train s`: means over seeds.",
        ]
        written += write_table(
            frame, out_dir, f"study_{study}", f"Results of study `{study}`", notes, {"steps": 0, "train s": 0}
        )
    return written
