"""Cost growth with the bandwidth: the power-law fit and the figure of ``results/bench/scaling.json``.

The benchmark (:mod:`eqaug.bench.scaling`, ``python -m eqaug.bench scaling``) measures the time per sample
of every family at several input bandwidths ``b`` and stores it with the fitted exponents
(:func:`fit_power_law`, :func:`fit_all`). :func:`draw_scaling` draws ``results/figures/scaling.png`` from that
JSON and :func:`eqaug.analysis.tables.write_scaling_tables` renders ``results/tables/scaling.md``, so that
``make figures`` re-renders both without measuring.

The fit: least squares of ``log t`` on ``log b`` over the measured (not skipped) points, ``t ≈ c·b^p``;
``p`` is the exponent, ``r2`` the coefficient of determination in log space. A second exponent over the points
with ``b ≥ 16`` (``exponent_b16``) shows the growth away from the smallest grids, where fixed costs dominate.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from eqaug.analysis.style import display_name, family_base, family_marker, model_color  # noqa: E402

__all__ = ["MODES", "fit_power_law", "fit_all", "measured", "draw_scaling"]

#: the timed directions, in the order of the tables: ``mode → label``
MODES = {"forward": "forward", "forward+backward": "forward + backward"}
#: the second fit uses the points at or above this bandwidth
FIT_MIN_B = 16


def fit_power_law(bandwidths: Sequence[float], times: Sequence[float]) -> dict[str, float] | None:
    """Least-squares fit of ``log t = log c + p·log b``; ``None`` with fewer than two distinct bandwidths.

    Returns ``{"exponent": p, "prefactor": c, "r2": R², "n_points": n}`` (``r2`` is 1 for two points,
    NaN when every ``log t`` is the same).
    """
    pts = [(math.log(b), math.log(t)) for b, t in zip(bandwidths, times) if b > 0 and t > 0]
    if len({x for x, _ in pts}) < 2:
        return None
    n = len(pts)
    mx = sum(x for x, _ in pts) / n
    my = sum(y for _, y in pts) / n
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    sxy = sum((x - mx) * (y - my) for x, y in pts)
    p = sxy / sxx
    intercept = my - p * mx
    ss_res = sum((y - intercept - p * x) ** 2 for x, y in pts)
    ss_tot = sum((y - my) ** 2 for _, y in pts)
    r2 = 1 - ss_res / ss_tot if ss_tot > 0 else math.nan
    return {"exponent": p, "prefactor": math.exp(intercept), "r2": r2, "n_points": n}


def measured(results: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The measured (not skipped or failed) points of a payload's ``results``."""
    return [r for r in results if r.get("status") == "measured"]


def fit_all(results: Iterable[dict[str, Any]], min_b: int = FIT_MIN_B) -> list[dict[str, Any]]:
    """One fit per (family, mode, batch size) over the measured points (time per sample vs bandwidth).

    Each entry: family, base_model, mode, batch_size, bandwidths (the points used), exponent, prefactor_s,
    r2, n_points, and exponent_b16 / n_points_b16 (the fit over ``b ≥ min_b``; ``None`` with < 2 points).
    """
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for r in measured(results):
        groups.setdefault((r["family"], r["mode"], int(r["batch_size"])), []).append(r)
    fits = []
    for (family, mode, batch), rows in groups.items():
        rows = sorted(rows, key=lambda r: r["bandwidth"])
        fit = fit_power_law([r["bandwidth"] for r in rows], [r["median_s_per_sample"] for r in rows])
        upper = [r for r in rows if r["bandwidth"] >= min_b]
        fit_hi = fit_power_law([r["bandwidth"] for r in upper], [r["median_s_per_sample"] for r in upper])
        fits.append(
            {
                "family": family,
                "base_model": rows[0].get("base_model"),
                "mode": mode,
                "batch_size": batch,
                "bandwidths": [r["bandwidth"] for r in rows],
                "exponent": fit["exponent"] if fit else None,
                "prefactor_s": fit["prefactor"] if fit else None,
                "r2": fit["r2"] if fit else None,
                "n_points": len(rows),
                f"exponent_b{min_b}": fit_hi["exponent"] if fit_hi else None,
                f"n_points_b{min_b}": len(upper),
            }
        )
    return fits


def _label(family: str, base_model: str | None) -> str:
    return display_name(base_model, family) if base_model else family


def draw_scaling(payload: dict[str, Any], out_dir: str | os.PathLike, stem: str = "scaling") -> list[Path]:
    """``<stem>.{png,pdf,json}`` in ``out_dir``: time per sample vs bandwidth (log-log), one panel per batch size.

    One colour per family, forward solid with filled markers, forward + backward dashed with open markers,
    the fitted power law as a thin line over the measured range; skipped points are listed in the footnote.
    """
    from eqaug.analysis.figures import save_figure

    results = payload.get("results", [])
    fits = payload.get("fits") or fit_all(results)
    points = measured(results)
    batches = sorted({int(r["batch_size"]) for r in results}) or [1]
    fig, axes = plt.subplots(1, len(batches), figsize=(5.6 * len(batches), 4.4), squeeze=False)
    for ax, batch in zip(axes[0], batches):
        for fit in sorted(fits, key=lambda f: (f["family"], list(MODES).index(f["mode"]))):
            if fit["batch_size"] != batch:
                continue
            family, mode, base = fit["family"], fit["mode"], fit.get("base_model")
            rows = sorted(
                (r for r in points if (r["family"], r["mode"], r["batch_size"]) == (family, mode, batch)),
                key=lambda r: r["bandwidth"],
            )
            if not rows:
                continue
            color = model_color(base or family, family)
            fwd = mode == "forward"
            bs = [r["bandwidth"] for r in rows]
            ms = [r["median_s_per_sample"] * 1e3 for r in rows]
            lo = [max(r.get("q1_s", r["median_s"]) / r["batch_size"] * 1e3, 1e-9) for r in rows]
            hi = [r.get("q3_s", r["median_s"]) / r["batch_size"] * 1e3 for r in rows]
            exp = fit.get("exponent")
            label = f"{_label(family, base)}, {MODES.get(mode, mode)}" + (
                f" ($\\propto b^{{{exp:.2f}}}$)" if exp is not None else ""
            )
            ax.errorbar(
                bs,
                ms,
                yerr=[[m - a for m, a in zip(ms, lo)], [b - m for m, b in zip(ms, hi)]],
                fmt=family_marker(family),
                color=color,
                mfc=color if fwd else "white",
                ms=5,
                capsize=2,
                ls="none",
            )
            if exp is not None and fit.get("prefactor_s"):
                xs = [bs[0] * (bs[-1] / bs[0]) ** (i / 40) for i in range(41)]
                ax.plot(
                    xs, [fit["prefactor_s"] * x**exp * 1e3 for x in xs], color=color, ls="-" if fwd else "--", lw=1.2
                )
            ax.plot(
                [],
                [],
                color=color,
                ls="-" if fwd else "--",
                marker=family_marker(family),
                mfc=color if fwd else "white",
                label=label,
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ticks = sorted({int(r["bandwidth"]) for r in results})
        if ticks:
            ax.set_xticks(ticks)
            ax.set_xticklabels([str(t) for t in ticks])
            ax.minorticks_off()
        ax.set_xlabel("input bandwidth b (grid 2b × 2b)")
        ax.set_ylabel("time per sample (ms)")
        ax.set_title(f"batch {batch}")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    meta = payload.get("meta", {})
    skipped = [r for r in results if r.get("status") != "measured"]
    foot = [
        f"one CPU thread ({meta.get('cpu', '?')}), float32, torch {meta.get('torch', '?')}; median and IQR over repeats; "
        "lines: least-squares power law (log t vs log b)"
    ]
    if skipped:
        foot.append(
            "not measured: "
            + ", ".join(
                f"{family_base(r['family'])} b={r['bandwidth']} batch {r['batch_size']} {r['mode']}"
                for r in sorted(skipped, key=lambda r: (r["family"], r["batch_size"], r["bandwidth"]))
            )
        )
    fig.text(0.01, -0.02, "\n".join(foot), fontsize=7, va="top", wrap=True)
    fig.suptitle("Cost growth with the bandwidth: time per sample vs b")
    fig.tight_layout()
    sidecar = {
        "source": "results/bench/scaling.json",
        "fits": fits,
        "skipped": [{k: r.get(k) for k in ("family", "bandwidth", "batch_size", "mode", "reason")} for r in skipped],
    }
    return save_figure(fig, Path(out_dir), stem, sidecar)
