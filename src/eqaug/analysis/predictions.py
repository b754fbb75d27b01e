"""Sample predictions (Fig. 15/16): input, ground truth and predicted mask of each family's best run.

Checkpoints are not committed, so this goes in two steps:

1. :func:`export_predictions` loads a run's best checkpoint (``torch.load(..., weights_only=True)``,
   refusing one whose ``ckpt["eqaug"]["run_key"]`` is another run's), rebuilds the model from the
   record's config, regenerates a few rotated test samples from the record's data config
   (:class:`eqaug.data.dataset.SphericalDataset`, a pure function of the index) and saves inputs,
   targets and predictions to a small ``results/predictions/<study>/<run_key>.npz`` (committed);
2. :func:`plot_predictions` draws the figure from those ``.npz`` files, so it can be redrawn
   where the checkpoints are gone.
"""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from eqaug.analysis.figures import FigureResult, save_figure  # noqa: E402
from eqaug.analysis.style import series_label  # noqa: E402
from eqaug.training.records import checkpoint_dir  # noqa: E402

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "best_runs_per_family",
    "find_checkpoint",
    "model_from_checkpoint",
    "prediction_path",
    "export_predictions",
    "load_predictions",
    "plot_predictions",
    "make_prediction_figure",
]

#: Class names of the segmentation masks (0 = background, item class + 1 after).
CLASS_NAMES = {
    "mnist": ["bg", *[str(d) for d in range(10)]],
    "fashion_mnist": [
        "bg",
        "T-shirt",
        "trouser",
        "pullover",
        "dress",
        "coat",
        "sandal",
        "shirt",
        "sneaker",
        "bag",
        "boot",
    ],
}
MASK_CMAP = ListedColormap(["#000000", *[plt.get_cmap("tab10")(i) for i in range(10)]], name="eqaug_masks")


def best_runs_per_family(frame: pd.DataFrame, study: str, split: str = "test_rot") -> pd.DataFrame:
    """The finished run with the highest ``<split>_score`` of each model family in ``study`` (equivariant first)."""
    rows = frame[(frame["study"] == study) & (frame["status"] == "finished") & frame[f"{split}_score"].notna()]
    if rows.empty:
        return rows
    best = rows.loc[rows.groupby("family")[f"{split}_score"].idxmax()]
    return best.sort_values(["equivariant", "family"], ascending=[False, True]).reset_index(drop=True)


def prediction_path(out_root: str | os.PathLike, study: str, run_key: str) -> Path:
    """``<out_root>/<study>/<run_key>.npz`` (``out_root`` is ``results/predictions``)."""
    return Path(out_root) / study / f"{run_key}.npz"


def find_checkpoint(record: dict[str, Any], results_dir: str | os.PathLike) -> Path | None:
    """The run's best checkpoint: the path in the record (relative to ``results_dir``; absolute in older
    records), else ``results_dir/checkpoints/<study>/<key>/best.ckpt``."""
    candidates = []
    best = (record.get("checkpoint") or {}).get("best")
    if best:
        candidates.append(Path(results_dir) / best)  # an absolute path stays as it is
    candidates.append(checkpoint_dir(results_dir, record["study"], record["run_key"]) / "best.ckpt")
    for path in candidates:
        if path.is_file():
            return path
    return None


def model_from_checkpoint(path: Path, record: dict[str, Any]) -> nn.Module:
    import torch

    from eqaug.models import build_model

    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    owner = (ckpt.get("eqaug") or {}).get("run_key")
    if owner not in (record["run_key"], record.get("migrated_from")):  # a checkpoint from before a migration
        raise ValueError(f"checkpoint {path} belongs to run {owner!r}, not to {record['run_key']!r}")
    model = build_model(record["config"]["model"])
    state = {k[len("model.") :]: v for k, v in ckpt["state_dict"].items() if k.startswith("model.")}
    model.load_state_dict(state)
    return model.eval()


def sample_indices(n_test: int, n_samples: int, seed: int = 0) -> np.ndarray:
    """``n_samples`` distinct test indices (sorted), the same for every run with the same test-set size."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_test, size=min(n_samples, n_test), replace=False))


def export_predictions(
    record: dict[str, Any],
    results_dir: str | os.PathLike,
    out_root: str | os.PathLike,
    n_samples: int = 8,
    sample_seed: int = 0,
    data_root: str | None = None,
) -> Path:
    """Predict a few rotated test samples with a run's best checkpoint; save them as ``.npz``.

    Parameters
    ----------
    record : the run record (finished, segmentation).
    results_dir : where its checkpoints are (``results_dir/checkpoints/...``) if the recorded path is gone.
    out_root : ``results/predictions``; the file is ``<out_root>/<study>/<run_key>.npz``.
    n_samples : how many test samples.
    sample_seed : seed of the choice of test indices.
    data_root : override ``config.data.root`` (where the planar datasets are on this machine).

    Returns
    -------
    The ``.npz`` path. Raises ``FileNotFoundError`` without a checkpoint and ``ValueError`` for a
    checkpoint of another run.
    """
    import torch

    from eqaug.data.dataset import SphericalDataset
    from eqaug.data.spec import DataSpec

    ckpt = find_checkpoint(record, results_dir)
    if ckpt is None:
        raise FileNotFoundError(f"no checkpoint of run {record['run_key']} (checkpoints are not committed)")
    model = model_from_checkpoint(ckpt, record)
    data = dict(record["config"]["data"])
    data["rotate"] = True
    if data_root is not None:
        data["root"] = data_root
    spec = DataSpec.from_config(data)
    dataset = SphericalDataset(spec, "test")
    indices = sample_indices(len(dataset), n_samples, sample_seed)
    images, targets = dataset.get_batch(indices)
    with torch.no_grad():
        preds = model(images).argmax(1)
    meta = {
        "run_key": record["run_key"],
        "study": record["study"],
        "model": record["config"]["model"].get("name"),
        "family": record["config"]["model"].get("family"),
        "regime": "rotated" if record["config"]["data"].get("rotate") else "unrotated",
        "seed": record["config"].get("seed"),
        "n_train": record["config"]["data"].get("n_train"),
        "metric": (record.get("metrics") or {}).get("monitor"),
        "test_rot_score": ((record.get("metrics") or {}).get("test_rot") or {}).get(
            (record.get("metrics") or {}).get("monitor", "miou_nb")
        ),
        "split": "test",
        "rotate": True,
        "dataset": spec.dataset,
        "indices": [int(i) for i in indices],
        "checkpoint": str(ckpt),
    }
    out = prediction_path(out_root, record["study"], record["run_key"])
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out,
        images=images[:, 0].numpy().astype(np.float16),
        targets=targets.numpy().astype(np.uint8),
        preds=preds.numpy().astype(np.uint8),
        indices=np.asarray(indices, dtype=np.int64),
        meta=np.asarray(json.dumps(meta)),
    )
    return out


def load_predictions(path: str | os.PathLike) -> dict[str, Any]:
    """``{"images", "targets", "preds", "indices", "meta"}`` of a predictions ``.npz``."""
    with np.load(path, allow_pickle=False) as npz:
        out = {k: npz[k] for k in ("images", "targets", "preds", "indices")}
        out["meta"] = json.loads(str(npz["meta"]))
    return out


def plot_predictions(
    study: str,
    blocks: list[dict[str, Any]],
    out_dir: str | os.PathLike,
    notes: list[str] | None = None,
    stem: str | None = None,
) -> FigureResult:
    """Draw input / ground truth / prediction columns, one block per family, one row per sample.

    Parameters
    ----------
    study : the study (figure title and file stem ``fig15_16_predictions_<study>``).
    blocks : loaded predictions (:func:`load_predictions`), one per family.
    out_dir : where the PNG, PDF and sidecar go.
    notes : footnotes (e.g. families without checkpoint or predictions).
    stem : file stem override.
    """
    stem = stem or f"fig15_16_predictions_{study}"
    n_rows = max(len(b["indices"]) for b in blocks)
    height = 1.5 * n_rows + 1.0
    fig = plt.figure(figsize=(4.6 * len(blocks), height))
    subfigs = np.atleast_1d(fig.subfigures(1, len(blocks), wspace=0.02))
    dataset = blocks[0]["meta"].get("dataset", "mnist")
    for sub, block in zip(subfigs, blocks):
        meta = block["meta"]
        axes = sub.subplots(n_rows, 3, squeeze=False)
        sub.subplots_adjust(left=0.08, right=0.98, top=1 - 0.95 / height, bottom=0.02, hspace=0.1, wspace=0.05)
        score = meta.get("test_rot_score")
        metric = {"miou_nb": "mIoU", "acc": "acc"}.get(meta.get("metric"), meta.get("metric"))
        sub.suptitle(
            f"{series_label(meta['model'], meta['family'], meta['regime'])}\n"
            f"rotated test {metric} {score:.3f}, n_train={meta['n_train']}, seed {meta['seed']}",
            fontsize=9,
        )
        for i in range(n_rows):
            for j, (key, title) in enumerate(
                (("images", "input"), ("targets", "ground truth"), ("preds", "prediction"))
            ):
                ax = axes[i, j]
                ax.set_xticks([])
                ax.set_yticks([])
                if i >= len(block["indices"]):
                    ax.axis("off")
                    continue
                if key == "images":
                    ax.imshow(block[key][i].astype(np.float32), cmap="gray", interpolation="nearest")
                else:
                    ax.imshow(block[key][i], cmap=MASK_CMAP, vmin=0, vmax=10, interpolation="nearest")
                if i == 0:
                    ax.set_title(title, fontsize=8)
                if j == 0:
                    ax.set_ylabel(f"#{int(block['indices'][i])}", fontsize=7)
    names = CLASS_NAMES.get(dataset, [str(c) for c in range(11)])
    handles = [Patch(facecolor=MASK_CMAP(c), edgecolor="0.5", label=names[c]) for c in range(11)]
    fig.legend(handles=handles, loc="lower center", ncol=11, fontsize=7, frameon=False, bbox_to_anchor=(0.5, -0.03))
    fig.suptitle(
        f"Sample predictions, {study}: best run of each family (equirectangular β × α grid)", fontsize=10, y=1.01
    )
    footer = "; ".join(notes or [])
    if footer:
        fig.text(0.01, -0.05, "\n".join(textwrap.wrap(footer, 130)), fontsize=7, va="top")
    sidecar = {
        "figure": stem,
        "study": study,
        "used_runs": [b["meta"]["run_key"] for b in blocks],
        "blocks": [b["meta"] for b in blocks],
        "notes": notes or [],
    }
    files = save_figure(fig, Path(out_dir), stem, sidecar)
    return FigureResult(stem, files, sidecar, note=footer or None)


def make_prediction_figure(
    study: str,
    frame: pd.DataFrame,
    records: dict[str, dict[str, Any]],
    results_dir: str | os.PathLike,
    pred_root: str | os.PathLike,
    out_dir: str | os.PathLike,
    n_samples: int = 8,
    refresh: bool = False,
    data_root: str | None = None,
    log: Callable[[str], None] = print,
) -> FigureResult:
    """Export (when the checkpoint exists) and draw the predictions of each family's best run of a study.

    Parameters
    ----------
    study : a segmentation study with records.
    frame : the summary table (:func:`eqaug.analysis.summary.summary_frame`).
    records : run records by run key.
    results_dir : where checkpoints are looked for.
    pred_root : ``results/predictions``.
    out_dir : ``results/figures``.
    n_samples : test samples per run.
    refresh : re-export even when the ``.npz`` exists.
    data_root : override of the records' ``data.root``.
    """
    stem = f"fig15_16_predictions_{study}"
    best = best_runs_per_family(frame, study)
    if best.empty:
        return FigureResult(stem, [], {}, skipped=f"no finished runs in study {study}")
    if (best["task"] != "seg").all():
        return FigureResult(stem, [], {}, skipped=f"study {study} is not a segmentation study")
    blocks, notes = [], []
    for row in best.itertuples():
        if row.task != "seg":
            continue
        record = records[row.run_key]
        npz = prediction_path(pred_root, study, row.run_key)
        has_ckpt = find_checkpoint(record, results_dir) is not None
        if has_ckpt and (refresh or not npz.exists()):
            try:
                export_predictions(record, results_dir, pred_root, n_samples=n_samples, data_root=data_root)
                log(f"predicted {n_samples} test samples with {row.run_key} → {npz}")
            except Exception as err:  # noqa: BLE001 - report and go on with the other families
                notes.append(f"{row.family}: could not predict with {row.run_key} ({type(err).__name__}: {err})")
        if npz.exists():
            blocks.append(load_predictions(npz))
        elif not has_ckpt:
            notes.append(f"{row.family}: best run {row.run_key} has neither a checkpoint nor {npz.name}")
    if not blocks:
        return FigureResult(stem, [], {}, skipped="; ".join(notes) or "nothing to draw")
    return plot_predictions(study, blocks, out_dir, notes, stem)
