"""Where the source tree keeps its configs (a leaf module: it imports nothing from eqaug)."""

from __future__ import annotations

from pathlib import Path

#: The root of the source tree (``src/eqaug/paths.py`` → two levels up).
REPO_ROOT = Path(__file__).resolve().parents[2]
#: The Hydra config directory of the source tree.
CONF_DIR = REPO_ROOT / "conf"
