"""Performance versus training-set size: the study's figures, drawn from run records only.

Each :class:`FigureSpec` is one figure of Gerken et al. 2022 (Fig. 2, 4, 5, 7, 9, 10, 14): x is the
number of training samples (log scale), one line per model and training regime, the mean over
seeds with a min–max band; y is the main metric (non-background mIoU / accuracy) on the panel's
test split (rotated test data for the augmentation comparisons). A figure is drawn for the
paper-scale studies and again for their ``_small`` twins, when those have records.

Next to ``<stem>.png`` and ``<stem>.pdf`` goes ``<stem>.json``: the run keys used, the plotted
points, and the expected runs (from the experiment's sweep, :mod:`eqaug.analysis.expected`)
that are missing or failed; the figure's footnote names them too.
"""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from eqaug.analysis import expected  # noqa: E402
from eqaug.analysis.style import family_marker, format_count, model_budget, model_color, series_label  # noqa: E402
from eqaug.analysis.summary import MAIN_METRIC, aggregate_seeds, summary_frame  # noqa: E402
from eqaug.config import is_equivariant_family  # noqa: E402

__all__ = [
    "Panel",
    "FigureSpec",
    "FigureResult",
    "FIGURES",
    "SMALL_SUFFIX",
    "make_figure",
    "save_figure",
    "known_models",
]

SMALL_SUFFIX = "_small"
METRIC_LABELS = {"miou_nb": "non-background mIoU", "acc": "accuracy"}
SPLIT_LABELS = {"test_rot": "rotated test data", "test_unrot": "unrotated test data", "val": "validation data"}
BAND_NOTE = "lines: mean over seeds; bands: min–max over seeds"


@dataclass(frozen=True)
class Panel:
    """One axes of a figure: the test split whose score is plotted, and an optional title."""

    split: str = "test_rot"
    title: str | None = None


@dataclass(frozen=True)
class FigureSpec:
    """What one figure shows.

    Attributes
    ----------
    fig_id : the paper's figure (``"fig2"``); the file stem is ``<fig_id>_<name>``.
    studies : the paper-scale studies whose records it draws (several are drawn together).
    title : figure title.
    panels : the axes, left to right.
    where : config filters ``(key, value)`` applied to records and expected runs
        (e.g. ``("data.projection_point", "equator")``).
    max_n_train : leave out training sets larger than this.
    name : the file stem's second part (default: the last study).
    """

    fig_id: str
    studies: tuple[str, ...]
    title: str
    panels: tuple[Panel, ...] = (Panel("test_rot"),)
    where: tuple[tuple[str, Any], ...] = ()
    max_n_train: int | None = None
    name: str | None = None

    @property
    def stem(self) -> str:
        return f"{self.fig_id}_{self.name or self.studies[-1]}"

    def twin(self, suffix: str = SMALL_SUFFIX) -> FigureSpec:
        """The same figure for the studies ``<study><suffix>``."""
        return replace(
            self,
            studies=tuple(s + suffix for s in self.studies),
            name=(self.name or self.studies[-1]) + suffix,
            title=f"{self.title} [reduced]",
        )


#: The figures of the study (paper scale; :meth:`FigureSpec.twin` gives the ``_small`` ones).
FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("fig2", ("seg_mnist1",), "Fig. 2: segmentation, one MNIST digit"),
    FigureSpec("fig4", ("cls_mnist",), "Fig. 4: classification, one MNIST digit", max_n_train=240_000),
    FigureSpec(
        "fig5",
        ("seg_unrotated",),
        "Fig. 5: trained on unrotated data, digit at the grid centre (equator)",
        panels=(Panel("test_unrot", "evaluated on unrotated data"), Panel("test_rot", "evaluated on rotated data")),
        where=(("data.projection_point", "equator"),),
    ),
    FigureSpec("fig7", ("seg_mnist4",), "Fig. 7: segmentation, four MNIST digits"),
    FigureSpec("fig9", ("seg_fashion",), "Fig. 9: segmentation, one FashionMNIST item"),
    FigureSpec("fig10left", ("cls_mnist",), "Fig. 10 left: classification up to 1.2M samples"),
    FigureSpec(
        "fig10right",
        ("seg_mnist1", "seg_saturation"),
        "Fig. 10 right: segmentation up to 1.2M samples",
        name="seg_saturation",
    ),
    FigureSpec(
        "fig14",
        ("seg_unrotated",),
        "Fig. 14: trained on unrotated data, digit at the south pole",
        panels=(Panel("test_unrot", "evaluated on unrotated data"), Panel("test_rot", "evaluated on rotated data")),
        where=(("data.projection_point", "south_pole"),),
    ),
)


#: Figures of single experiments that have no paper-scale twin: ``make sweep``'s ``seg_quick``.
EXTRA_FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec(
        "fig2",
        ("seg_quick",),
        "make sweep: one MNIST digit, 500 steps (S2CNN trained unrotated, CNNs rotated)",
        panels=(Panel("test_rot", "evaluated on rotated data"), Panel("test_unrot", "evaluated on unrotated data")),
    ),
)


@dataclass
class FigureResult:
    """A written figure: its files, the sidecar's content and the footnote."""

    stem: str
    files: list[Path]
    sidecar: dict[str, Any]
    note: str | None = None
    skipped: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def wrote(self) -> str:
        """The log line of a written figure: ``wrote <dir>/<stem>.{png,pdf,json}  (note)``."""
        return f"wrote {self.files[0].parent}/{self.stem}.{{png,pdf,json}}" + (f"  ({self.note})" if self.note else "")


def known_models(family: str, seen: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The models of a family to shade colours against: the named configs ``<family>_*`` of that family (a
    config named like another family's, e.g. ``cnn_seg_218k_circ`` of ``sphcnn_seg``, is not) and ``seen``."""
    from eqaug.models import load_spec, model_names

    names = [n for n in model_names() if n.startswith(f"{family}_") and load_spec(n).family == family]
    return sorted(set(names) | set(seen))


def _keep(record: dict[str, Any], spec: FigureSpec) -> bool:
    if not expected.matches(record, dict(spec.where)):
        return False
    if spec.max_n_train is not None:
        n = expected.record_value(record, "data.n_train")
        if n is not None and int(n) > spec.max_n_train:
            return False
    return True


def _keep_cell(cell: dict[str, Any], spec: FigureSpec) -> bool:
    for key, value in spec.where:
        if key in cell and str(cell[key]) != str(value):
            return False
    if spec.max_n_train is not None and "data.n_train" in cell and int(cell["data.n_train"]) > spec.max_n_train:
        return False
    return True


def study_coverage(
    study: str, records: list[dict[str, Any]], spec: FigureSpec, conf_dir: str | os.PathLike | None = None
) -> expected.Coverage:
    """Expected-versus-recorded runs of one study, restricted to the figure's filters."""
    experiment = expected.experiment_for_study(study, conf_dir)
    if experiment is None:
        return expected.coverage(records, None, source=f"no conf/experiment config for study {study!r}")
    try:
        params = expected.sweep_params(experiment, conf_dir)
    except Exception as err:  # noqa: BLE001 - a broken experiment config must not stop the figures
        reason = f"could not expand conf/experiment/{experiment}.yaml ({type(err).__name__}: {err})"
        return expected.coverage(records, None, source=reason)
    cells = [c for c in expected.expected_cells(params) if _keep_cell(c, spec)]
    return expected.coverage(records, cells, source=f"conf/experiment/{experiment}.yaml (hydra.sweeper.params)")


def merge_coverage(parts: list[expected.Coverage]) -> expected.Coverage:
    """One coverage from several studies' (expected counts add up; unknown if all are unknown)."""
    known = [p.n_expected for p in parts if p.n_expected is not None]
    merged = expected.Coverage(
        n_expected=sum(known) if known else None, source="; ".join(p.source or "" for p in parts)
    )
    for p in parts:
        merged.found += p.found
        merged.missing += p.missing
        merged.failed += p.failed
        merged.extra += p.extra
        merged.duplicates += p.duplicates
    return merged


def save_figure(fig: plt.Figure, out_dir: Path, stem: str, sidecar: dict[str, Any]) -> list[Path]:
    """Write ``<stem>.png``, ``<stem>.pdf`` (no timestamps) and the sidecar ``<stem>.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    png, pdf, side = out_dir / f"{stem}.png", out_dir / f"{stem}.pdf", out_dir / f"{stem}.json"
    fig.savefig(png, dpi=150, bbox_inches="tight", metadata={"Software": None})
    fig.savefig(pdf, bbox_inches="tight", metadata={"CreationDate": None, "ModDate": None, "Creator": None})
    plt.close(fig)
    sidecar = {**sidecar, "files": [png.name, pdf.name, side.name]}
    side.write_text(json.dumps(sidecar, indent=1, sort_keys=False, default=str) + "\n")
    return [png, pdf, side]


def _line_order(item: tuple[tuple[str, str, str], Any]) -> tuple:
    """Legend order: equivariant families first, then by parameter budget, then by name and regime."""
    (model, family, regime), _ = item
    budget = model_budget(model)
    return (not is_equivariant_family(family), family, budget if budget is not None else float("inf"), model, regime)


def _xticks(ax: plt.Axes, xs: list[int]) -> None:
    ax.set_xscale("log")
    ax.set_xticks(xs)
    ax.set_xticklabels([format_count(x) for x in xs])
    ax.minorticks_off()


def make_figure(
    spec: FigureSpec,
    records_by_study: dict[str, list[dict[str, Any]]],
    out_dir: str | os.PathLike,
    conf_dir: str | os.PathLike | None = None,
) -> FigureResult:
    """Draw one figure from the records of its studies (``FigureResult.skipped`` says why not).

    Parameters
    ----------
    spec : the figure.
    records_by_study : run records (finished and failed) per study.
    out_dir : where the PNG, PDF and sidecar JSON go.
    conf_dir : the Hydra ``conf/`` directory holding the experiments (default: the repository's).
    """
    out_dir = Path(out_dir)
    per_study = {s: [r for r in records_by_study.get(s, []) if _keep(r, spec)] for s in spec.studies}
    if not any(per_study.values()):
        studies = ", ".join(spec.studies)
        where = f" with {dict(spec.where)}" if spec.where else ""
        return FigureResult(spec.stem, [], {}, skipped=f"no records for study {studies}{where}")
    cov = merge_coverage([study_coverage(s, recs, spec, conf_dir) for s, recs in per_study.items()])
    records = [r for recs in per_study.values() for r in recs]
    frame = summary_frame(records)
    finished = frame[frame["status"] == "finished"]
    task = finished["task"].dropna().iloc[0] if not finished.empty else frame["task"].dropna().iloc[0]
    metric = MAIN_METRIC.get(task, "score")

    n_panels = len(spec.panels)
    fig, axes = plt.subplots(
        1, n_panels, figsize=(5.4 * n_panels, 4.3), squeeze=False, sharey=True
    )  # panels compare the same score
    points: list[dict[str, Any]] = []
    xs_all = sorted({int(x) for x in finished["n_train"].dropna()}) if not finished.empty else []
    for ax, panel in zip(axes[0], spec.panels):
        agg = aggregate_seeds(frame, f"{panel.split}_score")
        for (model, family, regime), line in sorted(agg.groupby(["model", "family", "regime"]), key=_line_order):
            line = line.sort_values("n_train")
            x = line["n_train"].astype(float).to_numpy()
            color = model_color(model, family, known_models(family, finished["model"].unique().tolist()))
            ax.fill_between(x, line["min"], line["max"], color=color, alpha=0.22, linewidth=0)
            ax.plot(
                x,
                line["mean"],
                color=color,
                marker=family_marker(family),
                markersize=5,
                linewidth=1.8,
                label=series_label(model, family, regime),
            )
            for row in line.itertuples():
                points.append(
                    {
                        "split": panel.split,
                        "model": model,
                        "family": family,
                        "regime": regime,
                        "n_train": int(row.n_train),
                        "mean": row.mean,
                        "min": row.min,
                        "max": row.max,
                        "n": row.n,
                        "run_keys": row.run_keys,
                    }
                )
        if xs_all:
            _xticks(ax, xs_all)
        else:
            ax.text(0.5, 0.5, "no finished runs", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel("training samples")
        ax.set_ylabel(f"{METRIC_LABELS.get(metric, metric)} on {SPLIT_LABELS.get(panel.split, panel.split)}")
        if panel.title:
            ax.set_title(panel.title, fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
    # one legend, right of the last panel (the panels draw the same lines): inside, it hid lines near 0 or 1
    handles, _ = axes[0][-1].get_legend_handles_labels()
    if handles:
        handles.append(Patch(facecolor="0.6", alpha=0.3, label="min–max over seeds"))
        axes[0][-1].legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    fig.suptitle(spec.title, fontsize=11)
    note = cov.note()
    footer = BAND_NOTE + (f". {note}" if note else "")
    fig.text(0.01, -0.01, "\n".join(textwrap.wrap(footer, 95 * n_panels)), fontsize=7, va="top", ha="left")
    fig.tight_layout()
    sidecar = {
        "figure": spec.stem,
        "fig_id": spec.fig_id,
        "title": spec.title,
        "studies": list(spec.studies),
        "where": dict(spec.where),
        "max_n_train": spec.max_n_train,
        "metric": metric,
        "caption": footer,
        "panels": [p.split for p in spec.panels],
        "used_runs": sorted({k for p in points for k in p["run_keys"]}),
        "points": points,
        "expected": cov.as_dict(),
    }
    files = save_figure(fig, out_dir, spec.stem, sidecar)
    return FigureResult(spec.stem, files, sidecar, note=note)


def records_by_study(records: list[tuple[Path, dict]] | list[dict]) -> dict[str, list[dict[str, Any]]]:
    """Group records (or ``(path, record)`` pairs) by their study."""
    out: dict[str, list[dict[str, Any]]] = {}
    for item in records:
        record = item[1] if isinstance(item, tuple) else item
        out.setdefault(record.get("study") or "", []).append(record)
    return out


def all_figure_specs(suffixes: tuple[str, ...] = ("", SMALL_SUFFIX)) -> list[FigureSpec]:
    """Every figure at paper scale (``""``) and for the twins (``"_small"``), then :data:`EXTRA_FIGURES`."""
    return [spec if not s else spec.twin(s) for spec in FIGURES for s in suffixes] + list(EXTRA_FIGURES)


def make_all_figures(
    records: list[tuple[Path, dict]] | list[dict],
    out_dir: str | os.PathLike,
    conf_dir: str | os.PathLike | None = None,
    only: list[str] | None = None,
    log: Callable[[str], None] = print,
) -> list[FigureResult]:
    """Draw every figure whose studies have records; print a note for each skipped one (one line for all
    those skipped for want of records: most studies have none after ``make sweep``)."""
    grouped = records_by_study(records)
    results = []
    no_records: list[str] = []
    for spec in all_figure_specs():
        if only and spec.stem not in only and spec.fig_id not in only:
            continue
        result = make_figure(spec, grouped, out_dir, conf_dir)
        if result.skipped and result.skipped.startswith("no records") and not only:
            no_records.append(spec.stem)
        elif result.skipped:
            log(f"skip {spec.stem}: {result.skipped}")
        else:
            log(result.wrote())
        results.append(result)
    if no_records:
        more = f", … ({len(no_records) - 4} more)" if len(no_records) > 4 else ""
        log(f"skip {len(no_records)} figures without records for their studies: {', '.join(no_records[:4])}{more}")
    return results


def figure_index(results: list[FigureResult]) -> pd.DataFrame:
    """Table of the figures written (stem, studies, used / expected / missing counts)."""
    rows = []
    for r in results:
        if r.skipped:
            continue
        exp = r.sidecar.get("expected", {})
        rows.append(
            {
                "figure": r.stem,
                "studies": " + ".join(r.sidecar.get("studies", [])),
                "runs_used": len(r.sidecar.get("used_runs", [])),
                "expected": exp.get("n_expected"),
                "missing": len(exp.get("missing", [])),
                "failed": len(exp.get("failed", [])),
            }
        )
    return pd.DataFrame(rows)
