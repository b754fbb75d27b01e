"""Latency/throughput tables (Tables 1–2): one row per (device, model, batch size) of a benchmark's
``results/bench/latency.json`` payload, written as ``latency.{md,csv}``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from eqaug.analysis.style import display_name
from eqaug.analysis.tables.writer import _meta_note, write_table
from eqaug.config import is_equivariant_family

__all__ = ["latency_frame", "write_latency_tables"]


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


def _merge_notes(meta: dict[str, Any]) -> list[str]:
    """One sentence per ``--merge`` of later measurements into the payload: which rows, when, on what."""
    notes = []
    for merge in meta.get("merges", []):
        models = sorted({row[0] for row in merge.get("rows", [])})
        notes.append(
            f"Re-measured on {merge.get('date')} (`--merge`; the other rows are from the run above): "
            f"{', '.join(f'`{m}`' for m in models)}. {_meta_note(merge)}"
        )
    return notes


def write_latency_tables(
    payload: dict[str, Any],
    out_dir: str | os.PathLike,
    name: str = "latency",
    title: str = "Inference latency and throughput vs batch size",
    made_by: str = "Made by `python -m eqaug.analysis latency` (`make bench`).",
) -> list[Path]:
    """``<name>.{md,csv}`` (default ``latency``) from a latency payload."""
    frame = latency_frame(payload)
    meta = payload.get("meta", {})
    notes = [
        "Inference (forward, eval, `torch.no_grad`) latency per call: median and interquartile range over "
        f"`torch.utils.benchmark.Timer` measurements (≥ {meta.get('min_repeats')} timings, "
        f"`blocked_autorange(min_run_time={meta.get('min_run_time')})` after {meta.get('warmup')} warm-up calls); "
        "throughput = batch / median latency. Gerken et al. 2022 Tables 1–2 report the same on a GPU.",
        _meta_note(meta),
        *_merge_notes(meta),
        made_by,
    ]
    digits = {"latency_ms": 2, "iqr_ms": 2, "ms_per_sample": 2, "throughput_per_s": 1}
    return write_table(frame, out_dir, name, title, notes, digits)
