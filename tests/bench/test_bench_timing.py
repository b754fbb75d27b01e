"""The one timing helper, the one quantile method and the one JSON writer of eqaug.bench."""

from __future__ import annotations

import json

import pytest

from eqaug.bench.io import command_line, write_json
from eqaug.bench.timing import Timings, quartiles, time_calls


def test_quartiles_by_hand():
    # inclusive method: positions (n - 1) * (1/4, 1/2, 3/4) between the sorted values
    assert quartiles([5.0, 1.0, 3.0, 2.0, 4.0]) == (2.0, 3.0, 4.0)
    assert quartiles([1.0, 2.0, 3.0, 4.0]) == pytest.approx((1.75, 2.5, 3.25))
    assert quartiles([1.0, 3.0]) == pytest.approx((1.5, 2.0, 2.5))
    assert quartiles([7.0]) == (7.0, 7.0, 7.0)
    assert quartiles(x for x in [0.0, 10.0, 20.0]) == (5.0, 10.0, 15.0)
    with pytest.raises(ValueError):
        quartiles([])


def test_time_calls_counts_calls_and_times_each():
    calls, syncs = [], []
    t = time_calls(lambda: calls.append(1), 3, warmup=2, sync=lambda: syncs.append(1))
    assert isinstance(t, Timings)
    assert len(calls) == 5 and t.warmup_calls == 2 and t.warmup_s >= 0
    assert len(syncs) == 1 + 3  # after the warm-up and in each timed call
    assert t.n == len(t.wall_s) == len(t.cpu_s) == 3
    assert all(w >= 0 for w in t.wall_s) and all(c >= 0 for c in t.cpu_s)
    q1, median, q3 = t.wall_quartiles()
    assert q1 <= median <= q3 and t.cpu_median() == quartiles(t.cpu_s)[1]


def test_time_calls_stops_the_warmup_after_max_warmup_s():
    calls = []
    t = time_calls(lambda: calls.append(1), 1, warmup=10, max_warmup_s=0.0)
    assert t.warmup_calls == 1 and len(calls) == 2


def test_time_calls_blocked_autorange_tops_up_to_repeats():
    calls = []

    def fn():
        calls.append(1)
        sum(range(2000))

    t = time_calls(fn, 4, warmup=1, min_run_time=0.005, threads=1)
    assert t.warmup_calls == 1 and t.n >= 4 and len(t.cpu_s) == t.n
    assert all(w > 0 for w in t.wall_s) and all(c >= 0 for c in t.cpu_s)
    assert len(calls) > t.n  # blocks of calls, block-size estimates and top-up warm-ups


def test_write_json_indent_1_with_trailing_newline(tmp_path):
    path = write_json(tmp_path / "a" / "b.json", {"meta": {"x": 1}, "results": [1.5]})
    assert path.read_text() == json.dumps({"meta": {"x": 1}, "results": [1.5]}, indent=1) + "\n"
    assert command_line("python -m eqaug.bench data", ["--repeats", "2"]) == "python -m eqaug.bench data --repeats 2"
