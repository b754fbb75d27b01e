"""eqaug.study: the job plans cover every run of the sweeps they stand for; status, progress, names."""

from __future__ import annotations

import json

import pytest
import torch

from eqaug.analysis.expected import expected_cells, sweep_params
from eqaug.study import plan as study_plan
from eqaug.study import progress as study_progress
from eqaug.study.plan import Job, expected_runs, job_runs, load_plan, plan_names
from eqaug.study.progress import Progress, count_finished, progress_line
from eqaug.study.runner import job_name
from eqaug.study.status import format_status, status


def jobs_of(name: str) -> list[Job]:
    return load_plan(name).jobs


def _covered(cell: dict, experiment: str, jobs) -> bool:
    for exp, model, overrides, _ in jobs:
        if exp != experiment or (model is not None and model != cell["model"]):
            continue
        fixed = dict(o.split("=", 1) for o in overrides)
        if all(str(cell.get(k)) == v for k, v in fixed.items()):
            return True
    return False


@pytest.mark.parametrize("job_set", ["study", "quick", "sweep", "baselines", "converge", "augstrength"])
def test_every_sweep_cell_has_a_job(job_set):
    jobs = jobs_of(job_set)
    for experiment in sorted({job.experiment for job in jobs}):
        missing = [c for c in expected_cells(sweep_params(experiment)) if not _covered(c, experiment, jobs)]
        assert not missing, f"{job_set}: {experiment} has no job for {missing[:3]}"


@pytest.mark.parametrize("job_set", ["study", "quick", "sweep", "baselines", "converge", "augstrength"])
def test_every_job_runs_cells_of_its_sweep(job_set):
    # a job whose overrides match no cell (a size or seed the sweep does not have) would run an extra run
    empty = [job for job in jobs_of(job_set) if not job_runs(*job)]
    assert not empty, f"{job_set}: jobs outside their sweeps: {empty[:3]}"


def test_learning_rate_grid_is_one_run_per_family_and_rate():
    # an experiment inherits its parent's sweep: the grid must override every swept key it fixes
    # (a parent's data.n_train sweep once turned 24 runs into 72)
    runs = expected_runs(jobs_of("baselines"))
    # 6 segmentation and 4 classification models × 4 rates, 3e-2 for the six whose best was 1e-2 (edge rule)
    # and 1e-1 for the zonal CNN and the GSCNN segmenter, best at 3e-2
    assert len(runs) == 48
    assert {cell["data.n_train"] for _, cell in runs} == {10000}
    assert {str(cell["optim.lr"]) for _, cell in runs} == {"0.0003", "0.001", "0.003", "0.01", "0.03", "0.1"}
    beyond = sorted(cell["model"] for _, cell in runs if cell["optim.lr"] == 0.03)
    assert beyond == sorted(
        ["zonal_seg_small", "s2cnn_seg_204k_small", "gscnn_seg_small"]
        + ["cnn_cls_114k_b16", "s2cnn_cls_150k_small", "gscnn_cls_small"]
    )


def test_job_beyond_its_sweep_needs_extends(tmp_path):
    # a fixed value outside the sweep runs nothing unless the job names the key in 'extends'
    assert job_runs("seg_lr_small", "zonal_seg_small", ("optim.lr=0.03",)) == []
    (cell,) = job_runs("seg_lr_small", "zonal_seg_small", ("optim.lr=0.03",), ("optim.lr",))
    assert cell["optim.lr"] == 0.03 and cell["model"] == "zonal_seg_small"
    # a model the sweep does not list, likewise (the augmentation-strength reference lines)
    assert job_runs("seg_augstrength_small", "s2cnn_seg_204k_small", ("data.rotation=none", "seed=0")) == []
    (cell,) = job_runs("seg_augstrength_small", "s2cnn_seg_204k_small", ("data.rotation=none", "seed=0"), ("model",))
    assert (cell["model"], cell["data.rotation"], cell["seed"]) == ("s2cnn_seg_204k_small", "none", 0)
    with pytest.raises(ValueError, match="'extends' names 'optim.betas'"):
        job_runs("seg_lr_small", "zonal_seg_small", ("optim.betas=1",), ("optim.betas",))
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "bad.yaml").write_text("jobs:\n  - {experiment: seg_lr_small, extends: [optim.lr]}\n")
    with pytest.raises(ValueError, match=r"'extends' names \['optim.lr'\], which the job does not fix"):
        load_plan("bad", conf_dir=tmp_path)


def test_study_runs_one_seed_of_every_claim_before_further_seeds():
    jobs = jobs_of("study")
    first_unrestricted_s2cnn = min(
        i for i, (_, model, o, _) in enumerate(jobs) if model.startswith("s2cnn") and not any("seed=" in x for x in o)
    )
    seed0 = {exp for exp, _, o, _ in jobs[:first_unrestricted_s2cnn] if "seed=0" in o or not o}
    assert {"seg_mnist1_small", "seg_unrotated_small", "cls_mnist_small", "seg_mnist4_small", "seg_fashion_small"} <= (
        seed0
    )


def test_commands_pass_the_set_overrides():
    quick = load_plan("quick")
    cmds = study_plan.commands(quick.jobs, "RES", ["x=1"], quick.overrides)
    assert len(cmds) == len(quick.jobs)
    assert all("trainer.threads=1" in c and "results_dir=RES" in c and c[-1] == "x=1" for c in cmds)


def test_status_counts_runs_to_do_and_reused_ones(tmp_path, compose_train):
    from eqaug.training import records
    from eqaug.training.run import to_run_config, with_data_identity

    job = Job("seg_unrotated_small", "s2cnn_seg_204k_small", ("seed=0", "data.n_train=1000"))
    assert [c["data.projection_point"] for c in job_runs(*job)] == ["equator", "south_pole"]
    (row,) = status([job], str(tmp_path))
    assert (row["runs"], row["done"], row["unknown_cost"]) == (2, 0, 2)
    # the same run finished in seg_mnist1_small counts as done (reuse_runs copies it), and its cost
    # per step estimates the other: 100 CPU-s over 4,000 steps
    _, resolved = to_run_config(
        compose_train(["experiment=seg_mnist1_small", "model=s2cnn_seg_204k_small", "seed=0", "data.n_train=1000"])
    )
    resolved = with_data_identity(resolved)
    key = records.run_key(resolved)
    record = {"run_key": key, "status": "finished", "study": "seg_mnist1_small", "config": resolved}
    record |= {"metrics": {}, "history": []}
    record |= {"steps_run": 4000, "timing": {"cpu_seconds_total": 100.0}}
    path = tmp_path / "runs" / "seg_mnist1_small" / f"{key}.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(record))
    (row,) = status([job], str(tmp_path))
    assert (row["runs"], row["done"], row["unknown_cost"]) == (2, 1, 0)
    assert row["cpu_hours_left"] == pytest.approx(100 / 3600)
    # an interrupted run (a last.ckpt at step 1,000) is reported and its estimate loses 1,000 steps' cost
    other = dict(resolved, data=dict(resolved["data"], projection_point="equator"))
    other_key = records.run_key(with_data_identity({k: v for k, v in other.items() if k != records.DATA_IDENTITY_KEY}))
    assert other_key != key
    last = records.checkpoint_dir(tmp_path, "seg_unrotated_small", other_key) / "last.ckpt"
    last.parent.mkdir(parents=True)
    monitored = {"monitor": "val/miou_nb", "best_model_score": torch.tensor(0.25)}
    callbacks = {"ModelCheckpoint{'monitor': 'val/miou_nb'}": monitored, "ModelCheckpoint{'monitor': None}": {}}
    torch.save({"global_step": 1000, "epoch": 3, "callbacks": callbacks}, last)
    (row,) = status([job], str(tmp_path))
    assert row["resumable"] == [{"step": 1000, "best": 0.25}]
    assert row["cpu_hours_left"] == pytest.approx(75 / 3600)
    assert "[1 part-trained: step 1,000, best 0.250]" in format_status([row])[0]
    last.write_bytes(b"not a checkpoint")  # unreadable: counted as a fresh start, never an error
    (row,) = status([job], str(tmp_path))
    assert row["resumable"] == [] and row["cpu_hours_left"] == pytest.approx(100 / 3600)
    # a run two jobs share counts once, in the first
    first, second = status(
        [Job("seg_unrotated_small", "s2cnn_seg_204k_small", ("data.n_train=1000",)), job], str(tmp_path)
    )
    assert (first["runs"], first["done"], second["runs"], second["done"]) == (6, 1, 0, 0)


def test_status_estimates_from_the_latest_runs_of_a_model(tmp_path, compose_train):
    # code gets faster: the cost per step is the median of the model's latest 3 runs (by date), not of all
    from eqaug.study.status import RECENT
    from eqaug.training.run import to_run_config

    job = Job("seg_unrotated_small", "s2cnn_seg_204k_small", ("seed=0", "data.n_train=1000"))
    _, resolved = to_run_config(compose_train(["experiment=seg_mnist1_small", "model=s2cnn_seg_204k_small"]))
    runs = tmp_path / "runs" / "elsewhere"
    runs.mkdir(parents=True)
    per_step = {f"2026-01-0{d}T00:00:00+00:00": 1.0 for d in (1, 2, 3)}  # three old, slow runs
    per_step |= {f"2026-12-0{d}T00:00:00+00:00": 0.1 for d in (1, 2, 3)}  # three new, fast ones
    assert RECENT == 3  # the median of all six would be 0.55
    for i, (date, cost) in enumerate(per_step.items()):
        record = {"run_key": f"r{i}", "status": "finished", "study": "elsewhere", "config": resolved}
        record |= {"metrics": {}, "history": [], "steps_run": 1000, "environment": {"date": date}}
        record |= {"timing": {"cpu_seconds_total": cost * 1000}}
        (runs / f"r{i}.json").write_text(json.dumps(record))
    (row,) = status([job], str(tmp_path))
    max_steps = compose_train(["experiment=seg_unrotated_small"]).trainer.max_steps
    assert row["cpu_hours_left"] == pytest.approx(2 * 0.1 * max_steps / 3600)  # two runs to do, the old record left out


def _fake_record(results_dir, study: str, name: str, model: str, n_train: int, seed: int, status="finished") -> None:
    config = {"model": {"name": model}, "data": {"n_train": n_train}, "seed": seed}
    path = results_dir / "runs" / study / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"run_key": name, "status": status, "study": study, "config": config}))


def test_count_finished_counts_runs_of_the_selected_jobs(tmp_path):
    runs = expected_runs(jobs_of("quick"))
    assert len(runs) == 12 and {study for study, _ in runs} == {"seg_quick"}  # 3 models x 2 sizes x 2 seeds
    assert count_finished(runs, tmp_path) == 0
    _fake_record(tmp_path, "seg_quick", "a", "cnn_seg_218k_small", 1000, 0)
    _fake_record(tmp_path, "seg_quick", "a2", "cnn_seg_218k_small", 1000, 0)  # same run twice: counts once
    _fake_record(tmp_path, "seg_quick", "b", "s2cnn_seg_204k_small", 5000, 1)
    _fake_record(tmp_path, "seg_quick", "c", "cnn_seg_1m_small", 1000, 1, status="failed")  # not finished
    _fake_record(tmp_path, "seg_quick", "d", "cnn_seg_1m_small", 3000, 0)  # outside the sweep
    _fake_record(tmp_path, "seg_mnist1_small", "e", "cnn_seg_1m_small", 1000, 0)  # another study
    (tmp_path / "runs" / "seg_quick" / "half-written.json").write_text('{"run_key": ')
    assert count_finished(runs, tmp_path) == 2
    # one job's runs only: the S2CNN at n = 1000
    s2cnn_1000 = expected_runs(jobs_of("quick")[:1])
    assert len(s2cnn_1000) == 2 and count_finished(s2cnn_1000, tmp_path) == 0


def test_progress_line():
    assert progress_line(5, 12, 2, 14 * 60) == (
        "[progress] 5/12 runs finished (3 this session), 14 min elapsed, about 33 min left"
    )
    assert progress_line(2, 12, 2, 90).endswith("(0 this session), 2 min elapsed, estimating…")
    assert progress_line(12, 12, 0, 3 * 3600 + 60).endswith("3 h 01 min elapsed, nothing left")


def test_progress_reports_and_survives_counting_failures(tmp_path, monkeypatch, capsys):
    _fake_record(tmp_path, "seg_quick", "a", "cnn_seg_218k_small", 1000, 0)
    with Progress(jobs_of("quick"), str(tmp_path), every=0) as progress:
        _fake_record(tmp_path, "seg_quick", "b", "cnn_seg_218k_small", 1000, 1)
        monkeypatch.setattr(study_progress, "count_finished", lambda *a: 1 / 0)
        progress.report()  # a failure to count prints a warning and raises nothing
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("[progress] 1/12 runs finished (0 this session)")
    assert lines[1].startswith("[progress] could not count the runs (ZeroDivisionError")
    monkeypatch.setattr(study_plan, "expected_runs", lambda jobs: 1 / 0)
    with Progress(jobs_of("quick"), str(tmp_path), every=0) as progress:
        progress.report()
    assert capsys.readouterr().out.startswith("[progress] cannot count the runs (ZeroDivisionError")


def test_plans_expand_each_in_order_and_name_their_jobs(tmp_path):
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "p.yaml").write_text(
        "overrides: [trainer.threads=1]\n"
        "jobs:\n"
        "  - {experiment: e1, model: m0}\n"
        "  - {experiment: e2, overrides: [a=1], each: {seed: [0, 1], model: [m1, m2]}}\n"
    )
    plan = load_plan("p", conf_dir=tmp_path)
    assert plan.overrides == ("trainer.threads=1",)
    assert plan.jobs == [
        Job("e1", "m0", ()),
        Job("e2", "m1", ("a=1", "seed=0")),
        Job("e2", "m2", ("a=1", "seed=0")),
        Job("e2", "m1", ("a=1", "seed=1")),
        Job("e2", "m2", ("a=1", "seed=1")),
    ]
    assert plan_names(tmp_path) == ["p"]
    with pytest.raises(ValueError, match=r"no job plan 'q'.*the plans are: p"):
        load_plan("q", conf_dir=tmp_path)
    (tmp_path / "plans" / "bad.yaml").write_text("jobs:\n  - {experiment: e, modle: m}\n")
    with pytest.raises(ValueError, match=r"bad.yaml job 0: a job needs 'experiment'.*modle"):
        load_plan("bad", conf_dir=tmp_path)
    cmd = study_plan.commands(plan.jobs[1:2], "R", [], plan.overrides)[0]
    assert job_name(7, cmd) == "07_e2_m1_0"


def test_runner_runs_every_job_logs_it_and_reports_failures(tmp_path, capsys):
    import sys

    from eqaug.study.runner import run_jobs

    jobs = jobs_of("quick")[:3]
    cmds = [
        [sys.executable, "-c", "print('job a')", "experiment=x", "model=a"],
        [sys.executable, "-c", "import sys; sys.exit(3)", "experiment=x", "model=b"],
        [sys.executable, "-c", "print('job c')", "experiment=x", "model=c"],
    ]
    failures = run_jobs(jobs, cmds, str(tmp_path), tmp_path / "logs", lanes=2, progress_seconds=0)
    assert failures == ["01_x_b"]
    assert (tmp_path / "logs" / "00_x_a.log").read_text().strip() == "job a"
    assert (tmp_path / "logs" / "02_x_c.log").read_text().strip() == "job c"
    out = capsys.readouterr().out
    assert "[job] done  01_x_b (exit 3" in out


def test_cli_lists_the_jobs_of_a_plan(capsys):
    from eqaug.study.__main__ import main

    assert main(["--set", "converge", "--list", "--only", "seg_converge_small"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 12 and all("experiment=seg_converge_small" in line for line in lines)
    assert lines[0].split()[3:5] == ["model=s2cnn_seg_204k_small", "seed=0"]


def test_plan_directory_is_no_config_key():
    # every directory of conf/ is a Hydra config group: one named like a config key (e.g. `study`)
    # would turn `study=<name>` overrides into group choices and break every run that sets it
    from dataclasses import fields

    from eqaug.paths import CONF_DIR
    from eqaug.training.schema import TrainConfig

    groups = {p.name for p in CONF_DIR.iterdir() if p.is_dir()}
    config_groups = {"data", "model", "trainer", "logger", "experiment", "hydra"}  # meant as groups
    top_keys = {f.name for f in fields(TrainConfig)} - config_groups
    assert "study" in top_keys and not groups & top_keys
