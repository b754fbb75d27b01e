"""Run the CPU-scale study: the ``_small`` experiments, split into per-model sweeps on parallel lanes.

Each job is one Hydra multirun, ``python -m eqaug.train -m experiment=<exp> model=<model>``, with one
thread per lane; jobs are taken in the order given (main claims first). Every run writes its record
as it finishes, so the script can be stopped at any time and started again: finished runs are
skipped, interrupted ones resume from their last checkpoint.

Usage::

    python scripts/run_study.py                       # every job, 2 lanes
    python scripts/run_study.py --lanes 1 --only seg_mnist1_small
    python scripts/run_study.py --list                # print the jobs
    python scripts/run_study.py --status              # runs done and to do per job, CPU time left
    python scripts/run_study.py --set quick           # make sweep: experiment=seg_quick
    python scripts/run_study.py --set paper --lanes 6 # make paper: every claim at full scale on SLURM

Each job's output (one line per validation check of each run) goes to ``<log-dir>/<job>.log``; the
script itself prints ``[lane N] start/done <job>`` and, every ``--progress-seconds`` and whenever a
job ends, ``[progress] 5/12 runs finished (3 this session), 14 min elapsed, about 20 min left``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _per_run(experiment: str, model: str, seeds: tuple[int, ...] = (0, 1, 2)) -> list[tuple[str, str, tuple[str, ...]]]:
    """One job per (training-set size, seed) of a slow model's sweep, so that two lanes share it."""
    return [(experiment, model, (f"seed={seed}", f"data.n_train={n}")) for n in (1000, 3000, 10000) for seed in seeds]


#: (experiment, model, extra overrides) in priority order: first one seed of every claim (C1, C3, C5
#: on seg_mnist1/seg_unrotated; C2 on cls_mnist; C4 on seg_mnist4/seg_fashion), then the other seeds,
#: then the further lines. One job per model (and, for the slow S2CNN and GSCNN lines, per seed and size) so
#: that the lanes balance.
JOBS: list[tuple[str, str, tuple[str, ...]]] = [
    # seed 0 of every claim
    ("seg_mnist1_small", "s2cnn_seg_204k_small", ("seed=0", "data.n_train=1000")),
    ("seg_unrotated_small", "cnn_seg_218k_small", ("seed=0",)),
    ("seg_mnist1_small", "s2cnn_seg_204k_small", ("seed=0", "data.n_train=10000")),
    ("seg_mnist1_small", "s2cnn_seg_204k_small", ("seed=0", "data.n_train=3000")),
    ("seg_mnist1_small", "cnn_seg_1m_small", ()),
    ("seg_mnist1_small", "cnn_seg_218k_small", ()),
    ("cls_mnist_small", "s2cnn_cls_150k_small", ("seed=0",)),
    ("cls_mnist_small", "cnn_cls_2m5_small", ("seed=0",)),
    ("cls_mnist_small", "cnn_cls_500k_small", ("seed=0",)),
    ("cls_mnist_small", "cnn_cls_114k_small", ("seed=0",)),
    ("seg_mnist4_small", "s2cnn_seg_204k_small", ("seed=0", "data.n_train=1000")),
    ("seg_mnist4_small", "cnn_seg_218k_small", ("seed=0",)),
    ("seg_fashion_small", "s2cnn_seg_204k_small", ("seed=0", "data.n_train=1000")),
    ("seg_fashion_small", "cnn_seg_218k_small", ("seed=0",)),
    ("seg_mnist4_small", "s2cnn_seg_204k_small", ("seed=0", "data.n_train=10000")),
    ("seg_mnist4_small", "cnn_seg_1m_small", ("seed=0",)),
    ("seg_fashion_small", "s2cnn_seg_204k_small", ("seed=0", "data.n_train=10000")),
    ("seg_fashion_small", "cnn_seg_1m_small", ("seed=0",)),
    # the other seeds and sizes
    *_per_run("seg_mnist1_small", "s2cnn_seg_204k_small", seeds=(1, 2)),
    # the generalized spherical CNN as a further line of C1
    *_per_run("seg_mnist1_small", "gscnn_seg_small", seeds=(0,)),
    ("seg_unrotated_small", "cnn_seg_218k_small", ()),
    ("cls_mnist_small", "s2cnn_cls_150k_small", ()),
    ("cls_mnist_small", "cnn_cls_2m5_small", ()),
    ("cls_mnist_small", "cnn_cls_500k_small", ()),
    ("cls_mnist_small", "cnn_cls_114k_small", ()),
    ("seg_unrotated_small", "cnn_seg_1m_small", ()),
    ("seg_unrotated_small", "s2cnn_seg_204k_small", ()),
    ("seg_mnist4_small", "cnn_seg_218k_small", ()),
    *_per_run("seg_mnist4_small", "s2cnn_seg_204k_small"),
    ("seg_mnist4_small", "cnn_seg_1m_small", ()),
    ("seg_fashion_small", "cnn_seg_218k_small", ()),
    *_per_run("seg_fashion_small", "s2cnn_seg_204k_small"),
    ("seg_fashion_small", "cnn_seg_1m_small", ()),
    # further lines: the GSCNN's seeds of C1, the larger CNNs of C1 (saturation), the CNN 5.5M and the
    # GSCNN classifier (minutes per run: all seeds at once), then the GSCNN in C3 and C4, seed 0 first
    *_per_run("seg_mnist1_small", "gscnn_seg_small", seeds=(1, 2)),  # seed 0 above
    ("seg_saturation_small", "cnn_seg_218k_small", ()),
    ("seg_saturation_small", "cnn_seg_1m_small", ()),
    ("seg_mnist1_small", "cnn_seg_5m5_small", ()),
    ("cls_mnist_small", "gscnn_cls_small", ()),
    ("seg_unrotated_small", "gscnn_seg_small", ("seed=0",)),
    *_per_run("seg_mnist4_small", "gscnn_seg_small", seeds=(0,)),
    *_per_run("seg_fashion_small", "gscnn_seg_small", seeds=(0,)),
    ("seg_unrotated_small", "gscnn_seg_small", ()),
    *_per_run("seg_mnist4_small", "gscnn_seg_small", seeds=(1, 2)),
    *_per_run("seg_fashion_small", "gscnn_seg_small", seeds=(1, 2)),
]


#: ``make sweep``: the quick main job (``experiment=seg_quick``); the S2CNN jobs first, one per
#: training-set size, so that the two lanes finish together.
QUICK_JOBS: list[tuple[str, str, tuple[str, ...]]] = [
    ("seg_quick", "s2cnn_seg_204k_small", ("data.n_train=1000",)),
    ("seg_quick", "s2cnn_seg_204k_small", ("data.n_train=5000",)),
    ("seg_quick", "cnn_seg_218k_small", ()),
    ("seg_quick", "cnn_seg_1m_small", ()),
]

#: ``make paper``: every claim at full scale (b = 50, the named models, 60k–1.2M samples), one Hydra
#: multirun per experiment over its whole grid, submitted to SLURM as array jobs (all at once).
PAPER_JOBS: list[tuple[str, str | None, tuple[str, ...]]] = [
    (experiment, None, ())
    for experiment in ("seg_mnist1", "seg_unrotated", "cls_mnist", "seg_mnist4", "seg_fashion", "seg_saturation")
]

#: The learning rates of the per-family grid (converged-baselines protocol), as Hydra prints them.
LR_GRID = ("0.0003", "0.001", "0.003")
#: ``make baselines``: the learning-rate grid of every family, one job per (model, rate) so that the
#: lanes share the slow S2CNN/GSCNN runs; segmentation (C1) first, then classification (C2).
BASELINE_JOBS: list[tuple[str, str, tuple[str, ...]]] = [
    (experiment, model, (f"optim.lr={lr}",))
    for experiment, models in (
        ("seg_lr_small", ("cnn_seg_218k_b16", "s2cnn_seg_204k_small", "cnn_seg_1m_b16", "gscnn_seg_small")),
        ("cls_lr_small", ("cnn_cls_114k_b16", "s2cnn_cls_150k_small", "cnn_cls_500k_b16", "gscnn_cls_small")),
    )
    for model in models
    for lr in LR_GRID
]

JOB_SETS = {"study": JOBS, "quick": QUICK_JOBS, "paper": PAPER_JOBS, "baselines": BASELINE_JOBS}
#: overrides of every job of a set: one CPU thread per lane, or a GPU per run through SLURM
SET_OVERRIDES = {
    "study": ("trainer.threads=1",),
    "quick": ("trainer.threads=1",),
    "baselines": ("trainer.threads=1",),
    "paper": ("hydra/launcher=slurm", "trainer=gpu"),
}


def commands(
    only: set[str] | None, results_dir: str, extra: list[str], jobs=JOBS, base: tuple[str, ...] = SET_OVERRIDES["study"]
) -> list[list[str]]:
    out = []
    for experiment, model, overrides in jobs:
        if only and experiment not in only:
            continue
        out.append(
            [
                sys.executable,
                "-m",
                "eqaug.train",
                "-m",
                f"experiment={experiment}",
                *([f"model={model}"] if model else []),
                *overrides,
                *base,
                "trainer.enable_progress_bar=false",
                f"results_dir={results_dir}",
                *extra,
            ]
        )
    return out


def job_runs(experiment: str, model: str | None, overrides: tuple[str, ...]) -> list[dict]:
    """The cells of the experiment's sweep that one job runs (its model and fixed overrides)."""
    from eqaug.analysis.expected import expected_cells, sweep_params

    fixed = dict(o.split("=", 1) for o in overrides)
    cells = expected_cells(sweep_params(experiment))
    return [
        c for c in cells if (model is None or c["model"] == model) and all(str(c.get(k)) == v for k, v in fixed.items())
    ]


def study_of(experiment: str) -> str:
    """The study an experiment's runs are recorded under: the ``study:`` line of
    ``conf/experiment/<experiment>.yaml``, else the experiment's name."""
    from eqaug.config import CONF_DIR

    path = CONF_DIR / "experiment" / f"{experiment}.yaml"
    if path.exists():
        for line in path.read_text().splitlines():
            m = re.match(r"study:\s*([\w.-]+)", line)
            if m:
                return m.group(1)
    return experiment


def expected_runs(jobs) -> list[tuple[str, dict]]:
    """``(study, cell)`` of every run of the jobs' sweeps, once each (a seed-0 job and its sweep share runs)."""
    out, seen = [], set()
    for experiment, model, overrides in jobs:
        study = study_of(experiment)
        for cell in job_runs(experiment, model, overrides):
            key = (study, tuple(sorted((k, repr(v)) for k, v in cell.items())))
            if key not in seen:
                seen.add(key)
                out.append((study, cell))
    return out


def count_finished(runs: list[tuple[str, dict]], results_dir: str | os.PathLike) -> int:
    """How many of ``runs`` (from :func:`expected_runs`) have a finished record under
    ``<results_dir>/runs/<study>/``; records that cannot be read (e.g. being written) are skipped."""
    from eqaug.analysis.expected import matches

    finished: dict[str, list[dict]] = {}
    for study in {study for study, _ in runs}:
        recs = finished.setdefault(study, [])
        for path in sorted((Path(results_dir) / "runs" / study).glob("*.json")):
            try:
                record = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(record, dict) and record.get("status") == "finished":
                recs.append(record)
    return sum(1 for study, cell in runs if any(matches(r, cell) for r in finished[study]))


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def progress_line(done: int, total: int, done_at_start: int, elapsed: float) -> str:
    """``[progress] 5/12 runs finished (3 this session), 14 min elapsed, about 20 min left``: the time
    left is the time per run finished this session times the runs left (``estimating…`` before the first)."""
    this_session, left = done - done_at_start, total - done
    if left <= 0:
        eta = "nothing left"
    elif this_session > 0:
        eta = f"about {_duration(elapsed / this_session * left)} left"
    else:
        eta = "estimating…"
    return f"[progress] {done}/{total} runs finished ({this_session} this session), {_duration(elapsed)} elapsed, {eta}"


class Progress:
    """Prints :func:`progress_line` every ``every`` seconds (never if ``every <= 0``) and on :meth:`report`.
    Counting never raises: a failure prints a short warning and the runner goes on."""

    def __init__(self, jobs, results_dir: str, every: float) -> None:
        self.results_dir, self.every = results_dir, every
        self.start = time.time()
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.runs: list[tuple[str, dict]] | None = None
        self.done_at_start = 0
        try:
            self.runs = expected_runs(jobs)
            self.done_at_start = count_finished(self.runs, results_dir)
        except Exception as err:  # noqa: BLE001
            print(f"[progress] cannot count the runs ({type(err).__name__}: {err}); no progress lines", flush=True)
            self.runs = None

    def report(self) -> None:
        if self.runs is None:
            return
        with self.lock:
            try:
                done = count_finished(self.runs, self.results_dir)
                line = progress_line(done, len(self.runs), self.done_at_start, time.time() - self.start)
            except Exception as err:  # noqa: BLE001
                line = f"[progress] could not count the runs ({type(err).__name__}: {err})"
            print(line, flush=True)

    def _loop(self) -> None:
        while not self.stopped.wait(self.every):
            self.report()

    def __enter__(self) -> Progress:
        self.report()
        if self.every > 0 and self.runs is not None:
            threading.Thread(target=self._loop, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()


def status(jobs, results_dir: str) -> list[dict]:
    """Per job: runs of its sweep not already counted for an earlier job, how many have a finished
    record (here or in another study, which ``reuse_runs`` copies), and an estimate of the CPU time
    left per run to do: the median CPU time of the finished runs of the same model in the same study,
    else the median CPU time per step of the model at that bandwidth times the step budget (an upper
    bound), else unknown (counted in ``unknown_cost``)."""
    import statistics

    from hydra import compose, initialize_config_dir

    from eqaug.config import CONF_DIR, register_configs
    from eqaug.data.sources import SourceNotFoundError
    from eqaug.training import records
    from eqaug.training.run import to_run_config, with_data_identity

    register_configs()
    done: dict[str, dict] = {}
    for _, rec in records.iter_records(results_dir):
        if rec["status"] == "finished":
            done.setdefault(rec["run_key"], rec)
    cost: dict[tuple[str, str], list[float]] = {}  # CPU seconds per run, per (study, model)
    per_step: dict[tuple[str, int], list[float]] = {}  # CPU seconds per step, per (model, bandwidth)
    for rec in done.values():
        timing = rec.get("timing") or {}
        seconds = timing.get("cpu_seconds_total") or timing.get("train_seconds_total")
        if seconds and not rec.get("reused_from"):
            model = rec["config"]["model"]["name"]
            cost.setdefault((rec["study"], model), []).append(seconds)
            if rec.get("steps_run"):
                per_step.setdefault((model, rec["config"]["data"]["bandwidth"]), []).append(seconds / rec["steps_run"])
    out = []
    seen: set[str] = set()  # a run two jobs share (a seed-0 job and its sweep's) counts in the first
    for experiment, model, overrides in jobs:
        runs, todo, unknown, left, no_data = 0, 0, 0, 0.0, 0
        cells = job_runs(experiment, model, overrides)  # composes in its own Hydra context
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            for cell in cells:
                cfg = compose("train", overrides=[f"experiment={experiment}", *(f"{k}={v}" for k, v in cell.items())])
                _, resolved = to_run_config(cfg)
                try:
                    key = records.run_key(with_data_identity(resolved))
                except SourceNotFoundError:  # data not on this machine: the run cannot be keyed (or run) here
                    no_data += 1
                    continue
                if key in seen:
                    continue
                seen.add(key)
                runs += 1
                if key in done:
                    continue
                todo += 1
                same_study = cost.get((cfg.study, cell["model"]))
                steps = per_step.get((cell["model"], cfg.data.bandwidth))
                if same_study:
                    left += statistics.median(same_study)
                elif steps and cfg.trainer.max_steps > 0:  # no early stopping assumed: an upper bound
                    left += statistics.median(steps) * cfg.trainer.max_steps
                else:
                    unknown += 1
        out.append(
            {
                "experiment": experiment,
                "model": model,
                "overrides": overrides,
                "runs": runs,
                "done": runs - todo,
                "cpu_hours_left": left / 3600,
                "unknown_cost": unknown,
                "no_data": no_data,
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lanes", type=int, default=2, help="parallel sweeps (one thread each)")
    parser.add_argument(
        "--set",
        choices=sorted(JOB_SETS),
        default="study",
        help="study (make study), quick (make sweep), baselines (make baselines) or paper (make paper)",
    )
    parser.add_argument("--only", nargs="*", help="experiments to run (default: all of the set)")
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--log-dir", default="results/logs/study", help="one log file per job")
    parser.add_argument(
        "--progress-seconds",
        type=float,
        default=60,
        help="print runs finished / total and the time left this often (and when a job ends; 0: only then)",
    )
    parser.add_argument("--list", action="store_true", help="print the jobs and exit")
    parser.add_argument(
        "--status", action="store_true", help="runs done and to do per job, with an estimate of the CPU time left"
    )
    parser.add_argument("extra", nargs="*", help="extra Hydra overrides for every job")
    args = parser.parse_args(argv)
    jobs = commands(
        set(args.only) if args.only else None, args.results_dir, args.extra, JOB_SETS[args.set], SET_OVERRIDES[args.set]
    )
    selected = [j for j in JOB_SETS[args.set] if not args.only or j[0] in args.only]
    if args.status:
        rows = status(selected, args.results_dir)
        for row in rows:
            label = " ".join([row["experiment"], row["model"] or "(all models)", *row["overrides"]])
            unknown = f" + {row['unknown_cost']} of unknown cost" if row["unknown_cost"] else ""
            if row["no_data"]:
                unknown += f" + {row['no_data']} whose data are not on this machine"
            print(f"{row['done']:3d}/{row['runs']:<3d} {row['cpu_hours_left']:6.2f} CPU-h left{unknown}  {label}")
        total, unknown = sum(r["cpu_hours_left"] for r in rows), sum(r["unknown_cost"] for r in rows)
        print(
            f"{sum(r['done'] for r in rows)}/{sum(r['runs'] for r in rows)} runs done; about {total:.1f} CPU-hours"
            f" left" + (f", plus {unknown} runs of models without a finished run yet" if unknown else "")
        )
        return 0
    if args.list:
        for cmd in jobs:
            print(" ".join(cmd[2:]))
        return 0
    log_dir = Path(args.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    queue = list(enumerate(jobs))
    lock = threading.Lock()
    failures: list[str] = []
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": os.environ.get("WANDB_MODE", "offline")}

    def lane(lane_id: int) -> None:
        while True:
            with lock:
                if not queue:
                    return
                i, cmd = queue.pop(0)
            keys = ("experiment=", "model=", "seed=", "data.n_train=")
            name = "_".join([f"{i:02d}"] + [a.split("=")[1] for a in cmd[4:] if a.startswith(keys)])
            start = time.time()
            print(f"[lane {lane_id}] start {name}", flush=True)
            with open(log_dir / f"{name}.log", "a") as log:
                code = subprocess.run(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
            print(f"[lane {lane_id}] done  {name} (exit {code}, {time.time() - start:.0f} s)", flush=True)
            if code != 0:
                with lock:
                    failures.append(name)
            progress.report()

    with Progress(selected, args.results_dir, args.progress_seconds) as progress:
        threads = [threading.Thread(target=lane, args=(k,)) for k in range(args.lanes)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if failures:
        print("jobs that exited non-zero:", ", ".join(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
