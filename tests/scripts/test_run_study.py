"""scripts/run_study.py: the job lists cover every run of the sweeps they stand for."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from eqaug.analysis.expected import expected_cells, sweep_params

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "run_study.py"


@pytest.fixture(scope="module")
def run_study():
    spec = importlib.util.spec_from_file_location("run_study", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _covered(cell: dict, experiment: str, jobs) -> bool:
    for exp, model, overrides in jobs:
        if exp != experiment or (model is not None and model != cell["model"]):
            continue
        fixed = dict(o.split("=", 1) for o in overrides)
        if all(str(cell.get(k)) == v for k, v in fixed.items()):
            return True
    return False


@pytest.mark.parametrize("job_set", ["study", "quick"])
def test_every_sweep_cell_has_a_job(run_study, job_set):
    jobs = run_study.JOB_SETS[job_set]
    for experiment in sorted({exp for exp, _, _ in jobs}):
        missing = [c for c in expected_cells(sweep_params(experiment)) if not _covered(c, experiment, jobs)]
        assert not missing, f"{job_set}: {experiment} has no job for {missing[:3]}"


@pytest.mark.parametrize("job_set", ["study", "quick"])
def test_every_job_runs_cells_of_its_sweep(run_study, job_set):
    # a job whose overrides match no cell (a size or seed the sweep does not have) would run an extra run
    empty = [job for job in run_study.JOB_SETS[job_set] if not run_study.job_runs(*job)]
    assert not empty, f"{job_set}: jobs outside their sweeps: {empty[:3]}"


def test_study_runs_one_seed_of_every_claim_before_further_seeds(run_study):
    jobs = run_study.JOBS
    first_unrestricted_s2cnn = min(
        i for i, (_, model, o) in enumerate(jobs) if model.startswith("s2cnn") and not any("seed=" in x for x in o)
    )
    seed0 = {exp for exp, _, o in jobs[:first_unrestricted_s2cnn] if "seed=0" in o or not o}
    assert {"seg_mnist1_small", "seg_unrotated_small", "cls_mnist_small", "seg_mnist4_small", "seg_fashion_small"} <= (
        seed0
    )


def test_commands_pass_the_set_overrides(run_study):
    cmds = run_study.commands(None, "RES", ["x=1"], run_study.QUICK_JOBS, run_study.SET_OVERRIDES["quick"])
    assert len(cmds) == len(run_study.QUICK_JOBS)
    assert all("trainer.threads=1" in c and "results_dir=RES" in c and c[-1] == "x=1" for c in cmds)


def test_status_counts_runs_to_do_and_reused_ones(run_study, tmp_path, compose_train):
    import json

    from eqaug.training import records
    from eqaug.training.run import to_run_config, with_data_identity

    job = ("seg_unrotated_small", "s2cnn_seg_204k_small", ("seed=0", "data.n_train=1000"))
    assert [c["data.projection_point"] for c in run_study.job_runs(*job)] == ["equator", "south_pole"]
    (row,) = run_study.status([job], str(tmp_path))
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
    (row,) = run_study.status([job], str(tmp_path))
    assert (row["runs"], row["done"], row["unknown_cost"]) == (2, 1, 0)
    assert row["cpu_hours_left"] == pytest.approx(100 / 3600)
    # a run two jobs share counts once, in the first
    first, second = run_study.status(
        [("seg_unrotated_small", "s2cnn_seg_204k_small", ("data.n_train=1000",)), job], str(tmp_path)
    )
    assert (first["runs"], first["done"], second["runs"], second["done"]) == (6, 1, 0, 0)


def _fake_record(results_dir, study: str, name: str, model: str, n_train: int, seed: int, status="finished") -> None:
    import json

    config = {"model": {"name": model}, "data": {"n_train": n_train}, "seed": seed}
    path = results_dir / "runs" / study / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"run_key": name, "status": status, "study": study, "config": config}))


def test_count_finished_counts_runs_of_the_selected_jobs(run_study, tmp_path):
    runs = run_study.expected_runs(run_study.QUICK_JOBS)
    assert len(runs) == 12 and {study for study, _ in runs} == {"seg_quick"}  # 3 models x 2 sizes x 2 seeds
    assert run_study.count_finished(runs, tmp_path) == 0
    _fake_record(tmp_path, "seg_quick", "a", "cnn_seg_218k_small", 1000, 0)
    _fake_record(tmp_path, "seg_quick", "a2", "cnn_seg_218k_small", 1000, 0)  # same run twice: counts once
    _fake_record(tmp_path, "seg_quick", "b", "s2cnn_seg_204k_small", 5000, 1)
    _fake_record(tmp_path, "seg_quick", "c", "cnn_seg_1m_small", 1000, 1, status="failed")  # not finished
    _fake_record(tmp_path, "seg_quick", "d", "cnn_seg_1m_small", 3000, 0)  # outside the sweep
    _fake_record(tmp_path, "seg_mnist1_small", "e", "cnn_seg_1m_small", 1000, 0)  # another study
    (tmp_path / "runs" / "seg_quick" / "half-written.json").write_text('{"run_key": ')
    assert run_study.count_finished(runs, tmp_path) == 2
    # one job's runs only: the S2CNN at n = 1000
    s2cnn_1000 = run_study.expected_runs(run_study.QUICK_JOBS[:1])
    assert len(s2cnn_1000) == 2 and run_study.count_finished(s2cnn_1000, tmp_path) == 0


def test_progress_line(run_study):
    assert run_study.progress_line(5, 12, 2, 14 * 60) == (
        "[progress] 5/12 runs finished (3 this session), 14 min elapsed, about 33 min left"
    )
    assert run_study.progress_line(2, 12, 2, 90).endswith("(0 this session), 2 min elapsed, estimating…")
    assert run_study.progress_line(12, 12, 0, 3 * 3600 + 60).endswith("3 h 01 min elapsed, nothing left")


def test_progress_reports_and_survives_counting_failures(run_study, tmp_path, monkeypatch, capsys):
    _fake_record(tmp_path, "seg_quick", "a", "cnn_seg_218k_small", 1000, 0)
    with run_study.Progress(run_study.QUICK_JOBS, str(tmp_path), every=0) as progress:
        _fake_record(tmp_path, "seg_quick", "b", "cnn_seg_218k_small", 1000, 1)
        monkeypatch.setattr(run_study, "count_finished", lambda *a: 1 / 0)
        progress.report()  # a failure to count prints a warning and raises nothing
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("[progress] 1/12 runs finished (0 this session)")
    assert lines[1].startswith("[progress] could not count the runs (ZeroDivisionError")
    monkeypatch.setattr(run_study, "expected_runs", lambda jobs: 1 / 0)
    with run_study.Progress(run_study.QUICK_JOBS, str(tmp_path), every=0) as progress:
        progress.report()
    assert capsys.readouterr().out.startswith("[progress] cannot count the runs (ZeroDivisionError")
