"""The benchmarks of eqaug.bench on tiny inputs (never a full run): their measuring functions and command lines."""

from __future__ import annotations

import argparse
import importlib
import json

import pytest
import torch

from eqaug.bench import __main__ as bench_cli
from eqaug.bench import data, equivariance, models, s2cnn_layers
from eqaug.bench.timing import Timings
from eqaug.data import DataSpec
from eqaug.paths import REPO_ROOT
from s2cnn import S2Convolution, s2_near_identity_grid


def test_every_benchmark_has_a_main_and_a_parser(capsys):
    assert bench_cli.main(["--help"]) == 0
    listed = capsys.readouterr().out
    for name, (module, _) in bench_cli.BENCHMARKS.items():
        assert name in listed
        mod = importlib.import_module(module)
        assert callable(mod.main)
        assert mod.build_parser().prog == f"python -m eqaug.bench {name}"
        with pytest.raises(SystemExit) as exc:
            bench_cli.main([name, "--help"])
        assert exc.value.code == 0
        assert f"usage: python -m eqaug.bench {name}" in capsys.readouterr().out
    assert bench_cli.main(["nope"]) == 2


def test_models_measure_and_ratios_on_tiny_models():
    args = argparse.Namespace(warmup=1, repeats=2, slow_repeats=1, slow_seconds=60.0)
    entries = [
        models.measure("cnn_seg_tiny", 1, "forward", args),
        models.measure("s2cnn_seg_tiny", 1, "forward", args),
        models.measure("cnn_seg_tiny", 2, "forward+backward", args),
    ]
    e = entries[0]
    assert e["repeats"] == len(e["times_s"]) == len(e["cpu_times_s"]) == 2
    assert e["median_s"] > 0 and e["iqr_s"] >= 0 and e["samples_per_s"] == pytest.approx(1 / e["median_s"])
    assert entries[2]["median_s_per_sample"] == pytest.approx(entries[2]["median_s"] / 2)
    pairs = (("s2cnn_seg_tiny", "cnn_seg_tiny"),)
    r = models.ratios(entries, "forward", 1, pairs=pairs)
    assert r == {"s2cnn_seg_tiny/cnn_seg_tiny": pytest.approx(entries[1]["median_s"] / entries[0]["median_s"])}


def test_models_repeats_at_least_5():
    with pytest.raises(SystemExit):
        models.main(["--repeats", "2", "--only", "targets"])


def test_s2cnn_time_mode_on_a_small_layer():
    torch.manual_seed(0)
    layer = S2Convolution(1, 2, 4, 3, s2_near_identity_grid())
    x = torch.randn(1, 1, 8, 8)
    for mode in s2cnn_layers.MODES:
        t = s2cnn_layers.time_mode(layer, x, mode, 2, 1, torch.device("cpu"))
        q1, q3 = t["iqr_ms"]
        assert t["repeats"] == 2 and t["warmup"] == 1
        assert 0 < t["min_ms"] <= q1 <= t["median_ms"] <= q3


def test_data_summary_by_hand():
    timings = Timings(wall_s=[0.1, 0.2, 0.4], cpu_s=[0.1, 0.1, 0.2], warmup_calls=1, warmup_s=0.1)
    s = data._summary(timings, 10)
    # rates 100, 50, 25 samples/s: quartiles (37.5, 50, 75)
    assert s == {
        "samples_per_s_median": 50.0,
        "samples_per_s_iqr": [37.5, 75.0],
        "ms_per_batch_median": 200.0,
        "cpu_samples_per_s_median": 100.0,
        "repeats": 3,
    }


def test_equivariance_measure_of_exact_maps():
    x = torch.randn(3, 2, 4)
    shift = lambda t, a, b, c: torch.roll(t, 1, -1)  # noqa: E731 - commutes with the map below
    mean, mx, seconds = equivariance.measure(lambda t: 2 * t, x, shift, shift, 2, 0)
    assert mean == mx == 0.0 and seconds >= 0
    assert equivariance.per_sample_errors(torch.ones(2, 3), torch.full((2, 3), 2.0)) == pytest.approx([0.5, 0.5])
    row = equivariance.row("c", "s", "g", "—", torch.float64, 1e-7, 2e-7, 0.123)
    assert row["dtype"] == "float64" and row["seconds"] == 0.12


def test_data_benchmarks_on_a_tiny_spec():
    spec = DataSpec(bandwidth=8, n_train=4)
    for bench in (data.bench_get_batch, data.bench_loader):
        s = bench(spec, 2, 1, 1)
        assert s["repeats"] == 1 and s["samples_per_s_median"] > 0
        assert s["samples_per_s_iqr"] == [s["samples_per_s_median"]] * 2


def test_models_entry_keys_match_the_committed_json():
    committed = REPO_ROOT / "results" / "bench" / "models.json"
    if not committed.exists():
        pytest.skip("no committed results/bench/models.json")
    forward = json.loads(committed.read_text())["forward"][0]
    args = argparse.Namespace(warmup=0, repeats=1, slow_repeats=1, slow_seconds=60.0)
    assert set(models.measure("cnn_seg_tiny", 1, "forward", args)) == set(forward)


def test_fft_engine_gives_the_gemm_engines_values_and_restores_the_default():
    """Both engines of the SO(3) transforms compute the same model (float32), and the default comes back."""
    import s2cnn._real_plans as plans
    from eqaug.bench.fft_engine import measure_launch

    before = (plans.FFT_MIN_B, plans.IFFT_MIN_B_CPU)
    out = measure_launch("s2cnn_seg_tiny", "cnn_seg_tiny", batch=2, repeats=1)
    assert out["engines_max_rel_diff"] < 1e-4
    assert out["s2cnn_gemm_s"] > 0 and out["s2cnn_fft_s"] > 0 and out["ratio_fft"] > 0
    assert (plans.FFT_MIN_B, plans.IFFT_MIN_B_CPU) == before


def test_variants_give_the_same_outputs_and_restore_the_settings():
    """The activation's chunk size and the CNNs' memory format change the speed, not the values (float32)."""
    from eqaug.bench.variants import CHOICES, measure
    from eqaug.models.gscnn import activation

    before = dict(activation._CHUNK_ELEMENTS)
    out = measure("gscnn_seg_tiny", CHOICES["tp_chunk"][1], batch=2, repeats=1)
    assert [r["variant"] for r in out["rows"]] == ["chunk 2^21", "chunk 2^16"]
    assert all(r["median_ms"] > 0 and r["max_rel_diff"] < 1e-5 for r in out["rows"])
    assert activation._CHUNK_ELEMENTS == before
    out = measure("cnn_seg_tiny", CHOICES["cnn_layout"][1], batch=2, repeats=1)
    assert [r["variant"] for r in out["rows"]] == ["contiguous", "channels_last"]
    assert all(r["max_rel_diff"] < 1e-5 for r in out["rows"])


def test_perf_steps_times_a_gscnn_activation_step_against_a_file(tmp_path, capsys):
    """``--target gscnn_activation`` swaps the activation's forward of the models it builds: the same file before and
    after gives the same outputs bit for bit; ``--cnn`` (the S2CNN's twin) is refused for it."""
    from eqaug.bench import perf_steps

    module = REPO_ROOT / perf_steps.TARGETS["gscnn_activation"]
    out = tmp_path / "steps.json"
    argv = ["--target", "gscnn_activation", "--before", str(module), "--step", "same file", "--out", str(out)]
    assert perf_steps.main([*argv, "--case", "gscnn_seg_tiny:2:adam:1"]) == 0
    (step,) = json.loads(out.read_text())
    (case,) = step["cases"]
    assert step["target"] == "gscnn_activation" and case["model"] == "gscnn_seg_tiny"
    assert case["max_abs_diff"] == 0.0 and case["median_ms_before"] > 0 and case["median_ms_after"] > 0
    assert "outputs differ by 0.0e+00" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        perf_steps.main([*argv, "--cnn"])
    assert exc.value.code == 2
    assert "--cnn" in capsys.readouterr().err


def test_perf_steps_swaps_in_the_before_activation():
    """The model built with a ``before`` module calls that module's forward (a stand-in that doubles the output)."""
    from types import SimpleNamespace

    from eqaug.bench import perf_steps
    from eqaug.models.gscnn.activation import TensorProductActivation

    calls = []

    def forward(self, x):
        calls.append(type(self).__name__)
        return 2 * TensorProductActivation.forward(self, x)

    fake = SimpleNamespace(TensorProductActivation=SimpleNamespace(forward=forward))
    base = perf_steps._build("gscnn_seg_tiny", None, "gscnn_activation").eval()
    swapped = perf_steps._build("gscnn_seg_tiny", fake, "gscnn_activation").eval()
    x = torch.randn(1, 1, 2 * base.spec.bandwidth, 2 * base.spec.bandwidth)
    with torch.no_grad():
        assert not torch.equal(base(x), swapped(x))
    assert calls and set(calls) == {"TensorProductActivation"}


def test_perf_steps_records_the_commit_a_revision_names(tmp_path):
    from eqaug.bench.perf_steps import resolved_commit

    head = resolved_commit("HEAD")
    assert head is not None and len(head) == 40 and all(ch in "0123456789abcdef" for ch in head)
    assert resolved_commit(str(tmp_path)) is None  # a path is its own record
    assert resolved_commit("no-such-revision-xyz") is None
