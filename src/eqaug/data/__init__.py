"""Spherical MNIST / FashionMNIST data: planar sources, the on-the-fly spherical generator, Dataset/DataLoader.

Typical use::

    from eqaug.data import DataSpec, SphericalDataset, make_dataloader

    spec = DataSpec(dataset="mnist", task="seg", bandwidth=16, n_train=60_000)
    loader = make_dataloader(spec, "train", batch_size=32, num_workers=2)
    images, masks = next(iter(loader))  # float32 [32, 1, 32, 32], int64 [32, 32, 32]

The names below are imported lazily, so ``import eqaug.data.spec`` (done by ``eqaug.config``) stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DataSpec": "spec",
    "SphericalDataset": "dataset",
    "SampleBatch": "dataset",
    "collate_batch": "dataset",
    "make_dataloader": "dataset",
    "SphericalGenerator": "generator",
    "SampleDraw": "generator",
    "SPLITS": "generator",
    "canvas_size_of": "generator",
    "split_length": "generator",
    "load_pools": "sources",
    "PlanarPools": "sources",
    "SourceNotFoundError": "sources",
    "DataFileError": "sources",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"eqaug.data.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'eqaug.data' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
