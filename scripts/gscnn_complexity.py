"""Cost of the GSCNN tensor-product activation vs bandlimit → ``results/tables/gscnn_complexity.{md,csv}``.

Usage::

    python scripts/gscnn_complexity.py [--L 8 16 32 64] [--batch 4] [--channels 4] [--threads 1] [--out results/tables]

For each degree-mixing set (full, MST, reduced MST) and bandlimit ``L`` (``L_in = L_out = L``, one fragment per
degree, float32, CPU): the number of products ``(l1, l2) → l`` (triples), of fragment products per channel, of
complex Clebsch–Gordan multiply–adds per product sweep (``terms``, the paper's operation count), of real gather
entries of our kernel (``nnz``), the table build time (first call, Clebsch–Gordan in float64 included) and the
median forward time.  Exponents ``p`` of ``cost ∝ L^p`` are fitted by least squares on log–log over the measured
``L`` (and over the two largest), to compare with the claimed ``O(L⁵)`` (full) → ``O(L³ log L)`` (reduced MST).
The full set at ``L = 64`` is skipped by default (≈ 2.5·10⁸ terms: a multi-GB table).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time

import numpy as np
import pandas as pd
import torch

from eqaug.analysis.tables import to_markdown, write_table
from eqaug.models.gscnn import TensorProductActivation
from eqaug.models.gscnn.mixing import degree_mixing_set


def fit_exponent(Ls: list[int], ys: list[float]) -> float:
    """Least-squares slope of ``log y`` on ``log L``."""
    if len(Ls) < 2:
        return float("nan")
    return float(np.polyfit(np.log(Ls), np.log(ys), 1)[0])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--L", type=int, nargs="+", default=[8, 16, 32, 64])
    p.add_argument("--full-max-L", type=int, default=32, help="largest L for the full set")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--channels", type=int, default=4)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="results/tables")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    for kind in ("full", "mst", "rmst"):
        for L in args.L:
            s = degree_mixing_set(kind, L)
            row = {"set": kind, "L": L, "triples": s.n_triples, "products": s.n_products(1), "terms": s.n_terms}
            if kind == "full" and L > args.full_max_L:
                rows.append(
                    {**row, "nnz": None, "build_s": None, "forward_ms": None, "note": "skipped (table too large)"}
                )
                continue
            act = TensorProductActivation((1,) * L, L, mixing=kind)
            x = torch.randn(L * L, args.batch, args.channels)
            t0 = time.perf_counter()
            with torch.no_grad():
                act(x)  # builds the table
            build = time.perf_counter() - t0
            times = []
            with torch.no_grad():
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    act(x)
                    times.append(time.perf_counter() - t0)
            rows.append(
                {
                    **row,
                    "nnz": act.n_terms,
                    "build_s": round(build, 3),
                    "forward_ms": 1e3 * statistics.median(times),
                    "note": "",
                }
            )
            print(rows[-1], flush=True)
    frame = pd.DataFrame(rows)
    fits = []
    for kind in ("full", "mst", "rmst"):
        sub = frame[(frame["set"] == kind) & frame["forward_ms"].notna()]
        allsub = frame[frame["set"] == kind]
        Ls, Lt = list(sub["L"]), list(allsub["L"])
        fits.append(
            {
                "set": kind,
                "terms_exponent": fit_exponent(Lt, list(allsub["terms"])),
                "terms_exponent_last2": fit_exponent(Lt[-2:], list(allsub["terms"])[-2:]),
                "forward_exponent": fit_exponent(Ls, list(sub["forward_ms"])),
                "forward_exponent_last2": fit_exponent(Ls[-2:], list(sub["forward_ms"])[-2:]),
                "L_range_forward": f"{min(Ls)}–{max(Ls)}" if Ls else "",
            }
        )
    fit_frame = pd.DataFrame(fits)
    ref = {L: (L**5, L**3 * math.log(L)) for L in args.L}
    md = (
        to_markdown(frame, {"forward_ms": 3, "build_s": 2, "nnz": 0})
        + "\n\nFitted exponents p (cost ∝ L^p, log–log least squares):\n\n"
        + to_markdown(fit_frame, {c: 2 for c in fit_frame.columns})
        + "\n\nFor reference, the local exponent of L³ log L between "
        + ", ".join(
            f"L={a}→{b}: {math.log(ref[b][1] / ref[a][1]) / math.log(b / a):.2f}"
            for a, b in zip(args.L[:-1], args.L[1:])
        )
        + "."
    )
    notes = [
        f"Tensor-product activation alone (L_in = L_out = L, type τ_l = 1, include_input), float32, "
        f"batch {args.batch} × {args.channels} channels, {args.threads} thread(s), median of {args.repeats} forwards "
        "after a first call that builds the table (`build_s`). `triples`: products (l1 ≤ l2) → l; `products`: "
        "fragment products per channel (l1 = l2 odd-l products vanish for τ = 1); `terms`: complex Clebsch–Gordan "
        "multiply–adds (Σ over triples of #{(m1, m2): |m1 + m2| ≤ l}), the operation count of the paper's "
        "complexity claim; `nnz`: real gather entries of our real-basis kernel (≈ 2 × terms).",
        "Timings on a shared 2-core VM (other jobs may have been running); the operation counts are exact.",
        "Made by `python scripts/gscnn_complexity.py` (also `make bench`).",
    ]
    paths = write_table(
        frame, args.out, "gscnn_complexity", "GSCNN tensor-product activation: cost vs L", notes, markdown=md
    )
    fit_frame.to_csv(paths[0].with_name("gscnn_complexity_fits.csv"), index=False, float_format="%.4g")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
