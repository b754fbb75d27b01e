"""Fixtures of the analysis tests (the synthetic-record builders are in ``analysis_helpers``)."""

from __future__ import annotations

import sys
from pathlib import Path

# the helpers module sits next to this file; make it importable under any pytest import mode
sys.path.insert(0, str(Path(__file__).parent))

from analysis_helpers import seg_results  # noqa: E402, F401 - re-exported fixture
