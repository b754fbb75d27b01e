"""One way to time a callable and one way to summarise the times, for every benchmark.

:func:`time_calls` runs warm-up calls, then timed calls, and records for each timing the wall time
and the process CPU time (:func:`time.process_time`: robust to other load on a shared machine).
Each call is timed on its own with :func:`time.perf_counter`, or, given ``min_run_time``, in blocks
by :meth:`torch.utils.benchmark.Timer.blocked_autorange` (time per call of each block).
:func:`quartiles` is the one quantile method of the benchmarks.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Timings", "forward_backward_seconds", "quartiles", "time_calls"]


def forward_backward_seconds(model: Any, x: Any) -> tuple[float, Any]:
    """Wall seconds of one training step without the optimiser (gradients cleared, forward, backward of a
    scalar), and the detached output: the step the same-process A/B benchmarks alternate."""
    model.zero_grad(set_to_none=True)
    t = time.perf_counter()
    y = model(x)
    y.square().mean().backward()
    return time.perf_counter() - t, y.detach()


def quartiles(xs: Sequence[float]) -> tuple[float, float, float]:
    """``(q1, median, q3)`` of ``xs``, interpolating linearly between order statistics.

    This is ``statistics.quantiles(xs, n=4, method="inclusive")`` (the same as numpy's and torch's
    default ``"linear"`` method); a single value is its own three quartiles.
    """
    xs = list(xs)
    if not xs:
        raise ValueError("quartiles of no values")
    if len(xs) == 1:
        return xs[0], xs[0], xs[0]
    q1, median, q3 = statistics.quantiles(xs, n=4, method="inclusive")
    return q1, median, q3


@dataclass(frozen=True)
class Timings:
    """Times of :func:`time_calls` in seconds: one wall and one CPU time per timing."""

    #: wall time of each timed call (with ``min_run_time``: per call of each block, then of each top-up call)
    wall_s: list[float]
    #: process CPU time of the same calls
    cpu_s: list[float]
    #: warm-up calls made
    warmup_calls: int
    #: wall time of the warm-up calls
    warmup_s: float

    @property
    def n(self) -> int:
        """Number of timings."""
        return len(self.wall_s)

    def wall_quartiles(self) -> tuple[float, float, float]:
        """:func:`quartiles` of the wall times."""
        return quartiles(self.wall_s)

    def cpu_median(self) -> float:
        """Median of the CPU times."""
        return quartiles(self.cpu_s)[1]


def _each_call(fn: Callable[[], Any], repeats: int, sync: Callable[[], None] | None) -> tuple[list[float], list[float]]:
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        if sync is not None:
            sync()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return wall, cpu


def _autorange(
    fn: Callable[[], Any], repeats: int, min_run_time: float, threads: int | None
) -> tuple[list[float], list[float]]:
    import torch
    from torch.utils import benchmark

    cpu_calls: list[float] = []

    def timed() -> None:
        c0 = time.process_time()
        fn()
        cpu_calls.append(time.process_time() - c0)

    timer = benchmark.Timer(
        stmt="timed()", globals={"timed": timed}, num_threads=threads if threads else torch.get_num_threads()
    )
    wall: list[float] = []
    cpu: list[float] = []

    def take(measurement: benchmark.Measurement) -> None:
        # the timed blocks are the last calls of the measurement (block-size estimates and warm-up come first)
        n, k = measurement.number_per_run, len(measurement.raw_times)
        recent = cpu_calls[len(cpu_calls) - n * k :]
        wall.extend(measurement.times)
        cpu.extend(sum(recent[i * n : (i + 1) * n]) / n for i in range(k))

    take(timer.blocked_autorange(min_run_time=min_run_time))
    while len(wall) < repeats:
        take(timer.timeit(1))
    return wall, cpu


def time_calls(
    fn: Callable[[], Any],
    repeats: int,
    warmup: int = 0,
    *,
    max_warmup_s: float = math.inf,
    sync: Callable[[], None] | None = None,
    min_run_time: float | None = None,
    threads: int | None = None,
) -> Timings:
    """Time calls of ``fn()``: ``warmup`` calls first, then the timed calls.

    Parameters
    ----------
    fn : the call to time (no arguments; its result is ignored).
    repeats : timed calls; with ``min_run_time``, the least number of timings.
    warmup : warm-up calls (fewer if they have taken ``max_warmup_s`` seconds, but at least one if any).
    sync : called after the warm-up and inside each timed call (e.g. ``torch.cuda.synchronize``);
        the ``min_run_time`` path leaves synchronisation to the torch timer.
    min_run_time : time blocks of calls with :meth:`torch.utils.benchmark.Timer.blocked_autorange`
        for this many seconds, topped up with single calls (:meth:`~torch.utils.benchmark.Timer.timeit`)
        until there are ``repeats`` timings.
    threads : torch intra-op threads of the ``min_run_time`` path (default: the current number).
    """
    t0 = time.perf_counter()
    calls = 0
    while calls < warmup:
        fn()
        calls += 1
        if time.perf_counter() - t0 > max_warmup_s:
            break
    if sync is not None:
        sync()
    warmup_s = time.perf_counter() - t0
    if min_run_time is None:
        wall, cpu = _each_call(fn, repeats, sync)
    else:
        wall, cpu = _autorange(fn, repeats, min_run_time, threads)
    return Timings(wall, cpu, calls, warmup_s)
