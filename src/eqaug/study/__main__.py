"""Run a job set of the study: ``python -m eqaug.study [--set NAME] [--lanes N] [--status] [--list]``.

Job sets are the plans ``conf/plans/<set>.yaml`` (:mod:`eqaug.study.plan`): ``study`` (``make
study``: the CPU-scale study), ``quick`` (``make sweep``), ``baselines`` (``make baselines``: the
learning-rate grid), ``converge`` (``make converge``), ``paper`` (``make paper``: full scale on SLURM).

Each job's output (one line per validation check of each run) goes to ``<log-dir>/<job>.log``; the
runner prints ``[job] start/done <job>`` and, every ``--progress-seconds`` and whenever a job ends,
``[progress] 5/12 runs finished (3 this session), 14 min elapsed, about 20 min left``.
"""

from __future__ import annotations

import argparse
import sys

from eqaug.study.plan import commands, load_plan, plan_names

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m eqaug.study", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lanes", type=int, default=2, help="parallel sweeps (one thread each)")
    parser.add_argument("--set", choices=plan_names(), default="study", help="the job plan (conf/plans/<set>.yaml)")
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
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (1 if a job exited non-zero)."""
    args = build_parser().parse_args(argv)
    plan = load_plan(args.set)
    only = set(args.only) if args.only else None
    selected = [j for j in plan.jobs if not only or j.experiment in only]
    if args.status:
        from eqaug.study.status import format_status, status

        print("\n".join(format_status(status(selected, args.results_dir))))
        return 0
    cmds = commands(selected, args.results_dir, args.extra, plan.overrides)
    if args.list:
        for cmd in cmds:
            print(" ".join(cmd[2:]))
        return 0
    from eqaug.study.runner import run_jobs

    failures = run_jobs(selected, cmds, args.results_dir, args.log_dir, args.lanes, args.progress_seconds)
    if failures:
        print("jobs that exited non-zero:", ", ".join(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
