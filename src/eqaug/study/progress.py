"""Progress of a running job set: runs finished against runs planned, and the time left."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from eqaug.study import plan

__all__ = ["count_finished", "progress_line", "Progress"]


def count_finished(runs: list[tuple[str, dict]], results_dir: str | os.PathLike) -> int:
    """How many of ``runs`` (from :func:`eqaug.study.plan.expected_runs`) have a finished record under
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

    def __init__(self, jobs: list[plan.Job], results_dir: str, every: float) -> None:
        self.results_dir, self.every = results_dir, every
        self.start = time.time()
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.runs: list[tuple[str, dict]] | None = None
        self.done_at_start = 0
        try:
            self.runs = plan.expected_runs(jobs)
            self.done_at_start = count_finished(self.runs, results_dir)
        except Exception as err:  # noqa: BLE001
            print(f"[progress] cannot count the runs ({type(err).__name__}: {err}); no progress lines", flush=True)
            self.runs = None

    def report(self) -> None:
        """Print the progress line now."""
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

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
