"""Training entry point: configs, sweeps, launchers, crash safety, determinism, clear errors."""

from __future__ import annotations

import json
import math
import signal
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from eqaug.config import CONF_DIR
from eqaug.testing import TINY, run_module
from eqaug.training import records
from eqaug.training.run import CheckpointMismatchError, run_training, to_run_config, with_data_identity

EXPERIMENTS = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))
TINY_MODEL = {
    "cnn_seg": "cnn_seg_tiny",
    "cnn_cls": "cnn_cls_tiny",
    "s2cnn_seg": "s2cnn_seg_tiny",
    "s2cnn_cls": "s2cnn_cls_tiny",
    "gscnn_seg": "gscnn_seg_tiny",
    "gscnn_cls": "gscnn_cls_tiny",
    "sphcnn_seg": "sphcnn_seg_tiny",
    "sphcnn_cls": "sphcnn_cls_tiny",
    "zonal_seg": "zonal_seg_tiny",
    "zonal_cls": "zonal_cls_tiny",
}


def _records(results_dir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((results_dir / "runs").glob("*/*.json"))]


def _sweep_models(experiment: str) -> list[str]:
    cfg = OmegaConf.load(CONF_DIR / "experiment" / f"{experiment}.yaml")
    params = OmegaConf.select(cfg, "hydra.sweeper.params") or {}
    return [m.strip() for m in str(params.get("model", "")).split(",") if m.strip()]


def test_experiments_exist():
    assert "smoke" in EXPERIMENTS
    assert len(EXPERIMENTS) >= 2


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_composes_for_every_swept_model(compose_train, experiment):
    """Every model of the experiment's sweep composes into a valid run config (no training)."""
    models = _sweep_models(experiment) or [None]
    for model in models:
        overrides = [f"experiment={experiment}"] + ([f"model={model}"] if model else [])
        typed, resolved = to_run_config(compose_train(overrides))
        assert typed.study == experiment
        assert resolved["model"]["bandwidth"] == typed.data.bandwidth


def test_model_without_tuned_rate_is_a_clear_error(compose_train):
    with pytest.raises(Exception, match=r"no tuned learning rate for model='cnn_seg_tiny'.*make baselines"):
        to_run_config(compose_train(["experiment=seg_converge_small", "model=cnn_seg_tiny"]))


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_runs_fast_dev_run(compose_train, tiny, fashion_idx_root, experiment):
    """Each experiment's settings run one fast_dev_run step, with the tiny model of each swept family.

    FashionMNIST comes from small IDX files the test suite writes (``fashion_idx_root``), so the
    FashionMNIST path is covered on a machine without Debian's package; MNIST from the embedded digits.
    """
    families = sorted(
        {compose_train([f"experiment={experiment}", f"model={m}"]).model.family for m in _sweep_models(experiment)}
    )
    families = families or [compose_train([f"experiment={experiment}"]).model.family]
    for family in families:
        overrides = [f"experiment={experiment}", f"model={TINY_MODEL[family]}", *tiny, "trainer.fast_dev_run=true"]
        # full-scale experiments read the full MNIST via torchvision; tests use the embedded digits
        overrides += ["data.source=auto", f"data.root={fashion_idx_root}"]
        if "${tuned_lr:" in OmegaConf.to_yaml(compose_train(overrides).optim):  # the experiment or a parent
            # the tiny models have no tuned rate; the swept models' rates are checked where they compose
            overrides.append("optim.lr=1e-3")
        record = run_training(compose_train(overrides))
        assert record["status"] == "finished", record.get("failure")
        if record["config"]["data"]["dataset"] == "fashion_mnist":
            assert record["data_source"]["source"] == "idx" and record["data_source"]["path"] == "FashionMNIST/raw"
        monitor = record["metrics"]["monitor"]
        for split in ("test_rot", "test_unrot"):
            value = record["metrics"][split][monitor]
            assert math.isnan(value) or 0.0 <= value <= 1.0


@pytest.mark.slow
def test_smoke_sweep_then_rerun_trains_nothing(tmp_path):
    out = tmp_path / "results"
    first = run_module("eqaug.train", "-m", "experiment=smoke", f"results_dir={out}")
    assert first.returncode == 0, first.stderr[-3000:]
    recs = _records(out)
    swept = _sweep_models("smoke")  # tiny models (a subset of TINY_MODEL's)
    assert set(swept) <= set(TINY_MODEL.values())
    assert sorted(r["config"]["model"]["name"] for r in recs) == sorted(swept)
    assert all(r["status"] == "finished" for r in recs)
    mtimes = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/*.json")}
    second = run_module("eqaug.train", "-m", "experiment=smoke", f"results_dir={out}")
    assert second.returncode == 0, second.stderr[-3000:]
    assert (second.stdout + second.stderr).count("skip ") == len(swept)
    assert "Trainer.fit" not in second.stdout + second.stderr
    assert {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/*.json")} == mtimes


@pytest.mark.slow
def test_two_run_multirun_through_submitit_local(tmp_path):
    out = tmp_path / "results"
    proc = run_module(
        "eqaug.train",
        "-m",
        "hydra/launcher=submitit_local",
        "model=cnn_seg_tiny",
        "seed=0,1",
        *TINY,
        f"results_dir={out}",
        "study=submitit",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    recs = _records(out)
    assert sorted(r["config"]["seed"] for r in recs) == [0, 1]
    assert all(r["status"] == "finished" for r in recs)


def test_slurm_launcher_config_composes_and_renders(compose_train, monkeypatch):
    monkeypatch.setenv("EQAUG_SLURM_PARTITION", "gpu-a100")
    monkeypatch.setenv("EQAUG_SLURM_TIMEOUT_MIN", "90")
    cfg = compose_train(["hydra/launcher=slurm", "trainer=gpu", "experiment=seg_mnist1"], return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert launcher.partition == "gpu-a100"
    assert launcher.timeout_min == 90
    assert launcher.gpus_per_node == 1
    text = OmegaConf.to_yaml(launcher, resolve=True)
    assert "gpu-a100" in text and "max_num_timeout" in text
    # one requeue owner: submitit's; Lightning's own SLURM handler stays off
    assert cfg.trainer.requeue == "submitit"


@pytest.mark.slow
def test_kill_mid_training_then_resume(tmp_path):
    out = tmp_path / "results"
    args = ["eqaug.train", "model=cnn_seg_tiny", *TINY, "trainer.max_epochs=3", f"results_dir={out}", "study=crash"]
    killed = run_module(*args, "debug.kill_after_epoch=0")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert _records(out) == []
    assert list((out / "checkpoints" / "crash").glob("*/last.ckpt"))
    resumed = run_module(*args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    recs = _records(out)
    assert len(recs) == 1
    rec = recs[0]
    assert rec["status"] == "finished"
    assert rec["resumed_from_epoch"] == 0
    assert [row["epoch"] for row in rec["history"]] == [0, 1, 2]  # the killed epoch's history survived


def _without_timings(record: dict) -> dict:
    def drop(row: dict | None) -> dict | None:
        timing = lambda k: "seconds" in k or k == "samples_per_second"  # noqa: E731
        return None if row is None else {k: v for k, v in row.items() if not timing(k)}

    return {
        "metrics": {split: drop(m) for split, m in _metrics(record).items()},
        "history": [drop(row) for row in record["history"]],
    }


@pytest.mark.slow
def test_kill_mid_epoch_then_resume_equals_the_uninterrupted_run(tmp_path):
    """A checkpoint written in the middle of an epoch resumes at the next batch of the same order.

    64 samples in batches of 16 (4 steps per epoch), validation and checkpoint every 2 steps, killed
    after step 6 (the middle of epoch 1). Replaying the interrupted epoch from its start, or restarting
    the shuffle at epoch 0's order, would train on other batches and change the metrics.
    """
    common = [
        "model=cnn_seg_tiny",
        *TINY,
        "data.n_train=64",
        "trainer.max_epochs=3",
        "trainer.val_check_steps=2",
        "trainer.patience=100",
    ]
    crash = [*common, f"results_dir={tmp_path / 'crash'}"]
    killed = run_module("eqaug.train", *crash, "debug.kill_after_step=6")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    resumed = run_module("eqaug.train", *crash)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "not resumable" not in resumed.stderr  # Lightning's warning for loaders without a state
    whole = run_module("eqaug.train", *common, f"results_dir={tmp_path / 'whole'}")
    assert whole.returncode == 0, whole.stderr[-3000:]
    (rec_resumed,), (rec_whole,) = _records(tmp_path / "crash"), _records(tmp_path / "whole")
    assert rec_resumed["resumed_from_epoch"] == 1 and rec_whole["resumed_from_epoch"] is None
    assert [row["step"] for row in rec_whole["history"]] == [2, 4, 6, 8, 10, 12]
    assert _without_timings(rec_resumed) == _without_timings(rec_whole)


@pytest.mark.slow
def test_nan_run_leaves_failure_record_and_sweep_completes(tmp_path):
    out = tmp_path / "results"
    proc = run_module(
        "eqaug.train",
        "-m",
        "model=cnn_seg_tiny",
        "optim.lr=1e-3,1e10",
        *TINY,
        "trainer.max_epochs=2",
        f"results_dir={out}",
    )
    assert proc.returncode == 1, proc.stderr[-3000:]  # the sweep went on, then reported the failed run
    assert "1 of 2 runs failed" in proc.stderr and "nan" in proc.stderr
    by_lr = {r["config"]["optim"]["lr"]: r for r in _records(out)}
    assert by_lr[1e-3]["status"] == "finished"
    assert by_lr[1e10]["status"] == "failed"
    assert by_lr[1e10]["failure"]["kind"] == "nan"
    assert "nan" in by_lr[1e10]["failure"]["message"]


TTT_TIMES = ("epoch", "step", "samples_seen", "wall_seconds", "train_seconds", "cpu_seconds")


def _metrics(record: dict) -> dict:
    return {split: record["metrics"][split] for split in ("val", "test_rot", "test_unrot")}


def test_seed_zero_seeds_and_cpu_runs_are_deterministic(compose_train, tmp_path):
    def run(seed: int, where: str) -> dict:
        return run_training(
            compose_train(["model=cnn_seg_tiny", *TINY, f"seed={seed}", f"results_dir={tmp_path / where}"])
        )

    a, b, c = run(0, "a"), run(0, "b"), run(1, "c")
    for rec in (a, b, c):
        for row in rec["history"]:  # timings differ between runs; drop them
            for key in [k for k in row if "seconds" in k or k == "samples_per_second"]:
                row.pop(key)
    assert _metrics(a) == _metrics(b)
    assert a["history"] == b["history"]
    assert _metrics(a) != _metrics(c)
    assert a["robustness"]["scores"] == b["robustness"]["scores"]


def test_a_run_finished_in_another_study_is_reused_not_retrained(compose_train, tmp_path):
    base = ["model=cnn_seg_tiny", *TINY, f"results_dir={tmp_path}"]
    first = run_training(compose_train([*base, "study=first", "target=0.0"]))
    again = run_training(compose_train([*base, "study=second", "target=2.0"]))
    key = first["run_key"]
    assert again["run_key"] == key and again["study"] == "second" and again["config"]["study"] == "second"
    assert again["reused_from"] == f"runs/first/{key}.json"
    assert _metrics(again) == _metrics(first) and again["history"] == first["history"]
    assert first["timing"]["time_to_threshold"]["epoch"] == 0  # every score reaches 0
    none_reaches_2 = {"target": 2.0, "reached": False, **dict.fromkeys(TTT_TIMES)}
    assert again["timing"]["time_to_threshold"] == none_reaches_2
    assert json.loads((tmp_path / "runs" / "second" / f"{key}.json").read_text())["reused_from"]
    assert not (tmp_path / "checkpoints" / "second").exists()  # nothing was trained
    # not reused: when switched off, or when the config differs
    trained = run_training(compose_train([*base, "study=third", "reuse_runs=false"]))
    assert "reused_from" not in trained and (tmp_path / "checkpoints" / "third" / key / "best.ckpt").exists()
    other = run_training(compose_train([*base, "study=fourth", "seed=1"]))
    assert other["run_key"] != key and "reused_from" not in other


def test_misspelt_key_fails_at_composition(compose_train):
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match="max_epoch"):
        compose_train(["trainer.max_epoch=3"])
    with pytest.raises(ConfigCompositionException, match="featurs"):
        compose_train(["model=cnn_seg_tiny", "model.featurs=[3]"])
    # forcing a new key past composition (`+key=`) is still refused before anything runs
    with pytest.raises((ValueError, TypeError), match="featurs"):
        to_run_config(compose_train(["model=cnn_seg_tiny", "+model.featurs=[3]"]))


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ("optim.lr=-1", "optim.lr=-1"),
        ("trainer.patience=-2", "trainer.patience=-2"),
        ("trainer.accelerator=tpu9", "trainer.accelerator='tpu9'"),
        ("data.bandwidth=12", "model.bandwidth=8 but data.bandwidth=12"),
        ("data.task=cls", "model.n_classes=11"),
        ("model.features=[4,-1]", "-1"),
    ],
)
def test_bad_values_are_clear_errors(compose_train, override, match):
    with pytest.raises(ValueError, match=match.replace("[", r"\[").replace("(", r"\(")):
        to_run_config(compose_train(["model=cnn_seg_tiny", override]))


def test_checkpoint_from_another_model_is_refused(compose_train, tmp_path):
    out = tmp_path / "results"
    base = [*TINY, f"results_dir={out}", "trainer.max_epochs=1", "study=mix"]
    first = run_training(compose_train(["model=cnn_seg_tiny", *base]))
    other_cfg = compose_train(["model=s2cnn_seg_tiny", *base])
    _, resolved = to_run_config(other_cfg)
    other_dir = records.checkpoint_dir(out, "mix", records.run_key(with_data_identity(resolved)))
    other_dir.mkdir(parents=True)
    (other_dir / "last.ckpt").write_bytes((out / first["checkpoint"]["last"]).read_bytes())
    with pytest.raises(CheckpointMismatchError, match="cnn_seg_tiny"):
        run_training(other_cfg)


def test_corrupt_record_is_a_clear_error(compose_train, tmp_path):
    cfg = compose_train(["model=cnn_seg_tiny", *TINY, f"results_dir={tmp_path}"])
    _, resolved = to_run_config(cfg)
    path = records.record_path(tmp_path, "default", records.run_key(with_data_identity(resolved)))
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        run_training(cfg)


def test_record_contents(compose_train, tmp_path):
    rec = run_training(
        compose_train(["model=s2cnn_seg_tiny", *TINY, "trainer.max_epochs=2", f"results_dir={tmp_path}", "target=0.0"])
    )
    assert rec["status"] == "finished"
    from eqaug.models import build_model

    assert rec["n_params"] == sum(p.numel() for p in build_model("s2cnn_seg_tiny").parameters())
    assert set(rec["metrics"]) >= {"val", "test_rot", "test_unrot", "monitor"}
    assert len(rec["metrics"]["test_rot"]["iou_per_class"]) == 11
    assert rec["timing"]["time_to_threshold"]["epoch"] == 0
    assert rec["environment"]["torch"] == torch.__version__
    # the score against polar tilt, 0°, 15°, …, 180° on the same test items
    curve = rec["robustness"]
    assert curve["metric"] == "miou_nb" and curve["angles_deg"] == [15.0 * k for k in range(13)]
    assert len(curve["scores"]) == 13 and all(0.0 <= s <= 1.0 for s in curve["scores"])
    on_disk = records.read_record(records.record_path(tmp_path, "default", rec["run_key"]))
    assert on_disk["run_key"] == rec["run_key"]
    # the checkpoint is loadable with weights_only=True and names its run
    # paths in the record are relative to results_dir, so results/ can move or be committed
    assert not Path(rec["checkpoint"]["best"]).is_absolute()
    ckpt = torch.load(tmp_path / rec["checkpoint"]["best"], map_location="cpu", weights_only=True)
    assert ckpt["eqaug"]["run_key"] == rec["run_key"]


def test_robustness_switch_and_angles_are_not_in_the_run_key(compose_train, tmp_path):
    base = ["model=cnn_seg_tiny", *TINY, f"results_dir={tmp_path}"]
    off = run_training(compose_train([*base, "study=off", "robustness.enabled=false"]))
    few = run_training(compose_train([*base, "study=few", "reuse_runs=false", "robustness.angles=[0,90]"]))
    assert off["robustness"] is None
    assert few["robustness"]["angles_deg"] == [0.0, 90.0] and len(few["robustness"]["scores"]) == 2
    assert off["run_key"] == few["run_key"]
    with pytest.raises(ValueError, match=r"robustness\.angles=\[200\.0\] is not allowed"):
        to_run_config(compose_train([*base, "robustness.angles=[0,200]"]))


def test_wandb_logger_runs_offline_without_network(compose_train, tmp_path):
    rec = run_training(compose_train(["model=cnn_seg_tiny", *TINY, "logger=wandb", f"results_dir={tmp_path}"]))
    assert rec["status"] == "finished"


@pytest.mark.parametrize("patience, stopped", [(2, True), (50, False)])
def test_record_says_whether_early_stopping_ended_the_run(compose_train, tiny, patience, stopped):
    """With a learning rate too small to change the score, early stopping ends the run after ``patience``
    checks without gain; the record says so (also after testing restored the best checkpoint's state)."""
    rec = run_training(
        compose_train(
            ["model=cnn_seg_tiny", *tiny, "optim.lr=1e-12", "trainer.max_epochs=6", f"trainer.patience={patience}"]
        )
    )
    assert rec["stopped_early"] is stopped
    assert rec["epochs_run"] == (patience + 1 if stopped else 6)
