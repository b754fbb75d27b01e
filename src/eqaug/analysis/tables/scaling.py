"""Cost growth with the bandwidth: ``scaling.{md,csv}`` (one row per family × bandwidth × batch) and
``scaling_fits.csv`` (the fitted exponents) from ``results/bench/scaling.json`` (:mod:`eqaug.bench.scaling`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from eqaug.analysis.scaling import FIT_MIN_B, MODES, fit_all
from eqaug.analysis.style import display_name
from eqaug.analysis.tables.writer import _meta_note, to_markdown, write_table

__all__ = ["scaling_frame", "fits_frame", "write_scaling_tables", "load_note"]

_SHORT = {"forward": "fwd", "forward+backward": "fwd+bwd"}


def _cell(r: dict[str, Any] | None) -> tuple[float | None, float | None, str]:
    """(median ms per sample, IQR ms per sample, status text) of one point."""
    if r is None:
        return None, None, "not run"
    if r.get("status") != "measured":
        return None, None, f"skipped: {r.get('reason', '')}"
    return r["median_s_per_sample"] * 1e3, r["iqr_s_per_sample"] * 1e3, ""


def scaling_frame(payload: dict[str, Any]) -> pd.DataFrame:
    """One row per (family, bandwidth, batch): the layer bandwidths, parameters and both directions' times."""
    points: dict[tuple[str, int, int], dict[str, dict[str, Any]]] = {}
    for r in payload.get("results", []):
        points.setdefault((r["family"], int(r["bandwidth"]), int(r["batch_size"])), {})[r["mode"]] = r
    rows = []
    for (family, b, batch), by_mode in sorted(points.items()):
        any_row = next(iter(by_mode.values()))
        row = {
            "family": family,
            "model": display_name(any_row.get("base_model") or family, family),
            "b": b,
            "layers": any_row.get("layers", ""),
            "params": any_row.get("params"),
            "batch": batch,
        }
        notes = []
        for mode in MODES:
            med, iqr, note = _cell(by_mode.get(mode))
            row[f"{_SHORT[mode]} ms/sample"] = med
            row[f"{_SHORT[mode]} IQR ms"] = iqr
            if note:
                notes.append(f"{_SHORT[mode]} {note}")
        row["note"] = "; ".join(notes)
        rows.append(row)
    return pd.DataFrame(rows)


def fits_frame(payload: dict[str, Any]) -> pd.DataFrame:
    """The fitted exponents (the payload's ``fits``, or fitted here from its results)."""
    fits = payload.get("fits") or fit_all(payload.get("results", []))
    rows = [
        {
            "family": f["family"],
            "model": display_name(f.get("base_model") or f["family"], f["family"]),
            "direction": MODES.get(f["mode"], f["mode"]),
            "batch": f["batch_size"],
            "exponent p (t ∝ b^p)": f.get("exponent"),
            "R²": f.get("r2"),
            "b fitted": " ".join(str(b) for b in f.get("bandwidths", [])),
            f"p over b ≥ {FIT_MIN_B}": f.get(f"exponent_b{FIT_MIN_B}"),
        }
        for f in sorted(fits, key=lambda f: (f["family"], f["batch_size"], list(MODES).index(f["mode"])))
    ]
    return pd.DataFrame(rows)


def load_note(meta: dict[str, Any]) -> str | None:
    """A sentence on the machine's load during the run, from ``loadavg_start``/``loadavg_end`` (and ``note``)."""
    start, end = meta.get("loadavg_start"), meta.get("loadavg_end")
    if not start:
        return meta.get("note")
    cpus, threads = meta.get("cpu_count") or meta.get("logical_cpus"), meta.get("threads") or 1
    peak = max(start[0], end[0] if end else 0.0)
    text = f"1-minute load average {start[0]:.2f} at the start" + (f" and {end[0]:.2f} at the end" if end else "")
    text += f" (on {cpus} logical CPUs, {threads} thread(s) benchmarking)"
    if peak >= threads + 0.75:
        text += (
            f": the machine was shared with other work (about {max(0, round(peak - threads))} other busy processes), "
            "so the wall times are inflated; compare the families and bandwidths within this run"
        )
    if meta.get("note"):
        text += f". {str(meta['note']).rstrip('.')}"
    return f"Load: {text}." if text else None


def write_scaling_tables(payload: dict[str, Any], out_dir: str | os.PathLike) -> list[Path]:
    """``scaling.{md,csv}`` and ``scaling_fits.csv`` from a scaling payload."""
    frame = scaling_frame(payload)
    fits = fits_frame(payload)
    meta = payload.get("meta", {})
    rules = meta.get("scaling_rules", {})
    warm, reps, least, limit = (meta.get(k) for k in ("warmup", "repeats", "min_repeats", "max_seconds"))
    limit = f"{limit:g}" if isinstance(limit, (int, float)) else limit
    notes = [
        "Time per sample against the input bandwidth b (grid 2b × 2b), one CPU thread, float32: forward in eval mode "
        "under `torch.no_grad`; forward + backward in train mode with a cross-entropy on random targets "
        f"(`backward()`, gradients cleared each call). Each point: {warm} warm-up call(s) (the first builds the plans "
        f"and tables), then up to {reps} timed calls (at least {least}; fewer when more would exceed {limit} s); "
        "median and interquartile range (IQR) of the wall time. A point predicted or found to exceed that limit is "
        "skipped, and so are the larger bandwidths of its family, direction and batch; skipped points are listed.",
        "How the layers were scaled (one architecture per family, channels fixed): "
        + "; ".join(f"{k}: {v}" for k, v in rules.items())
        + ". The column `layers` gives the hidden layers' bandlimits (S2CNN, GSCNN) or the kernel sizes (CNN).",
        f"Exponent p: least squares of log(time per sample) on log b over the measured points; `p over b ≥ {FIT_MIN_B}` "
        "leaves out the smallest grid, where fixed per-call costs weigh most.",
    ]
    load = load_note(meta)
    if load:
        notes.append(load)
    notes += [_meta_note(meta), "Made by `python -m eqaug.bench scaling`; re-rendered by `make figures`."]
    digits = {c: 3 for c in frame.columns if "ms" in c}
    body = to_markdown(frame, digits)
    if not fits.empty:
        body += "\n\n## Fitted exponents\n\n" + to_markdown(
            fits, {"exponent p (t ∝ b^p)": 2, "R²": 3, f"p over b ≥ {FIT_MIN_B}": 2}
        )
    paths = write_table(frame, out_dir, "scaling", "Cost growth with the bandwidth", notes, digits, markdown=body)
    fits_csv = Path(out_dir) / "scaling_fits.csv"
    fits.to_csv(fits_csv, index=False, float_format="%.6g")
    return [*paths, fits_csv]
