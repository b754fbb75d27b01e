"""Per-layer, per-operator and per-stage profile tables (Tables 6–7) of a benchmark's
``results/bench/profile.json`` payload, written as ``profile_layers``, ``profile_ops`` and ``profile_stages``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from eqaug.analysis.tables.writer import _meta_note, write_table

__all__ = ["profile_frames", "write_profile_tables"]


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
