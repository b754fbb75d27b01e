"""``--status``: per job, the runs done and to do, and an estimate of the CPU time left."""

from __future__ import annotations

from pathlib import Path

from eqaug.study.plan import Job, job_runs

__all__ = ["status", "format_status", "resume_point"]

#: The per-step cost of a model is the median over its latest RECENT finished runs (by the records' dates).
RECENT = 3


def status(jobs: list[Job], results_dir: str) -> list[dict]:
    """Per job: runs of its sweep not already counted for an earlier job, how many have a finished
    record (here or in another study, which ``reuse_runs`` copies), and an estimate of the CPU time
    left per run to do: the median CPU time of the finished runs of the same model in the same study,
    else the median CPU time per step of the model's latest :data:`RECENT` runs at that bandwidth times
    the step budget (an upper bound), else unknown (counted in ``unknown_cost``).

    A run to do that left a ``last.ckpt`` (interrupted, so the next start resumes it, or training now)
    is listed in ``resumable`` (:func:`resume_point`: its steps done and best validation score so far),
    and its estimate loses those steps at the model's median CPU time per step."""
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
    # CPU seconds per step, per (model, bandwidth), with the record's date: the latest few count (code gets faster)
    per_step: dict[tuple[str, int], list[tuple[str, float]]] = {}
    for rec in done.values():
        timing = rec.get("timing") or {}
        seconds = timing.get("cpu_seconds_total") or timing.get("train_seconds_total")
        if seconds and not rec.get("reused_from"):
            model = rec["config"]["model"]["name"]
            cost.setdefault((rec["study"], model), []).append(seconds)
            if rec.get("steps_run"):
                date = str((rec.get("environment") or {}).get("date") or "")
                key = (model, rec["config"]["data"]["bandwidth"])
                per_step.setdefault(key, []).append((date, seconds / rec["steps_run"]))
    out = []
    seen: set[str] = set()  # a run two jobs share (a seed-0 job and its sweep's) counts in the first
    for job in jobs:
        experiment, model, overrides = job.experiment, job.model, job.overrides
        runs, todo, unknown, left, no_data = 0, 0, 0, 0.0, 0
        resumable: list[dict] = []  # resume_point() of each part-trained run
        cells = job_runs(*job)  # composes in its own Hydra context
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
                steps = [c for _, c in sorted(per_step.get((cell["model"], cfg.data.bandwidth), []))[-RECENT:]]
                point = resume_point(records.checkpoint_dir(results_dir, cfg.study, key) / "last.ckpt")
                if point is not None:
                    resumable.append(point)
                done_steps = point["step"] if point else 0
                if same_study:
                    estimate = statistics.median(same_study)
                elif steps and cfg.trainer.max_steps > 0:  # no early stopping assumed: an upper bound
                    estimate = statistics.median(steps) * cfg.trainer.max_steps
                else:
                    unknown += 1
                    continue
                if done_steps and steps:
                    estimate = max(0.0, estimate - statistics.median(steps) * done_steps)
                left += estimate
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
                "resumable": resumable,
            }
        )
    return out


def resume_point(last_ckpt: Path) -> dict | None:
    """Where an interrupted run stands: ``{"step": global_step, "best": best validation score or None}`` from
    its ``last.ckpt`` (the monitored checkpoint callback's state), or ``None`` where there is none or it cannot
    be read (the run then starts from step 0, or fails with a clear error)."""
    import torch

    if not last_ckpt.is_file():
        return None
    try:
        state = torch.load(last_ckpt, map_location="cpu", weights_only=True)
        step = int(state["global_step"])
    except Exception:  # noqa: BLE001 - a status line must not fail on a half-written or foreign file
        return None
    best = None
    for name, cb in (state.get("callbacks") or {}).items():
        if name.startswith("ModelCheckpoint") and isinstance(cb, dict) and cb.get("monitor"):
            score = cb.get("best_model_score")
            best = None if score is None else float(score)
    return {"step": step, "best": best}


def format_status(rows: list[dict]) -> list[str]:
    """The lines ``--status`` prints: one per job, then the total."""
    lines = []
    for row in rows:
        label = " ".join([row["experiment"], row["model"] or "(all models)", *row["overrides"]])
        unknown = f" + {row['unknown_cost']} of unknown cost" if row["unknown_cost"] else ""
        if row["no_data"]:
            unknown += f" + {row['no_data']} whose data are not on this machine"
        if row.get("resumable"):
            points = sorted(row["resumable"], key=lambda p: p["step"])
            at = "; ".join(
                f"step {p['step']:,}" + ("" if p["best"] is None else f", best {p['best']:.3f}") for p in points
            )
            unknown += f" [{len(points)} part-trained: {at}]"
        lines.append(f"{row['done']:3d}/{row['runs']:<3d} {row['cpu_hours_left']:6.2f} CPU-h left{unknown}  {label}")
    total, unknown = sum(r["cpu_hours_left"] for r in rows), sum(r["unknown_cost"] for r in rows)
    lines.append(
        f"{sum(r['done'] for r in rows)}/{sum(r['runs'] for r in rows)} runs done; about {total:.1f} CPU-hours"
        f" left" + (f", plus {unknown} runs of models without a finished run yet" if unknown else "")
    )
    return lines
