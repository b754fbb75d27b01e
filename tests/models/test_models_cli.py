"""``python -m eqaug.models`` prints the architecture and ends with ``params: N``."""

from __future__ import annotations

import subprocess
import sys


def test_models_cli_prints_param_count():
    out = subprocess.run(
        [sys.executable, "-m", "eqaug.models", "cnn_seg_218k"], capture_output=True, text=True, check=True
    ).stdout
    assert "CNNSegmenter(" in out
    assert out.strip().splitlines()[-1] == "params: 218144"


def test_models_cli_unknown_name_fails():
    r = subprocess.run([sys.executable, "-m", "eqaug.models", "cnn_seg_999k"], capture_output=True, text=True)
    assert r.returncode != 0 and "unknown model 'cnn_seg_999k'" in r.stderr
