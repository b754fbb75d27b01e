"""The package's layers import only downwards (ARCHITECTURE.md): a lower layer never imports a higher one."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "eqaug"

#: rank of each top-level module of eqaug: a module may import modules of its own rank or below
LAYERS = {
    "paths": 0,
    "environment": 0,
    "validate": 0,
    "data": 1,
    "testing": 2,
    "models": 2,
    "arch": 3,
    "training": 4,
    "config": 5,
    "train": 6,
    "analysis": 7,
    "bench": 8,
    "study": 8,
}


def _top(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("eqaug."):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("eqaug.")}
    return found


MODULES = sorted(p for p in SRC.rglob("*.py"))


def test_every_top_level_module_has_a_layer():
    tops = {p.relative_to(SRC).parts[0].removesuffix(".py") for p in MODULES} - {"__init__"}
    assert tops <= set(LAYERS), f"no layer for {sorted(tops - set(LAYERS))}: add it to LAYERS and ARCHITECTURE.md"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_go_downwards(path):
    own = path.relative_to(SRC).parts[0].removesuffix(".py")
    if own == "__init__":
        return
    upward = sorted(m for m in _imports(path) if LAYERS.get(_top(m), -1) > LAYERS[own])
    assert not upward, f"{path.relative_to(SRC)} (layer {own}) imports higher layers: {upward}"
