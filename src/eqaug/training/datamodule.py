"""LightningDataModule over the spherical datasets: train/val in the training regime, two test sets.

The test split is evaluated twice, rotated and unrotated (same items, same seed), so "train
unrotated / test rotated" and "train rotated / test rotated" come from the same record.
"""

from __future__ import annotations

from dataclasses import replace

import lightning as L
import torch
from torch.utils.data import DataLoader

from eqaug.data.dataset import make_dataloader
from eqaug.data.sources import PlanarPools, describe_location, fingerprint, load_pools
from eqaug.data.spec import DataSpec


class SphericalDataModule(L.LightningDataModule):
    """Dataloaders of one data spec.

    Parameters
    ----------
    spec : the training data (``spec.rotate`` is the training/validation regime).
    batch_size : batch size of every loader.
    num_workers : DataLoader worker processes (samples are pure functions of their index, so results
        do not depend on it).
    seed : seeds the order in which training samples are visited.
    """

    def __init__(self, spec: DataSpec, batch_size: int, num_workers: int = 0, seed: int = 0) -> None:
        super().__init__()
        self.spec = spec
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self._pools = None

    def pools(self) -> PlanarPools:
        """The planar pools of the data (loaded once)."""
        if self._pools is None:
            self._pools = load_pools(self.spec.dataset, self.spec.source, self.spec.root)
        return self._pools

    def _loader(self, spec: DataSpec, split: str, shuffle: bool = False) -> DataLoader:
        self.pools()
        return make_dataloader(
            spec,
            split,
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            seed=self.seed,
            pin_memory=torch.cuda.is_available(),
            pools=self._pools,
        )

    def source_info(self) -> dict[str, object] | None:
        """What the planar items were and where they came from, for the record: resolved ``source``,
        content ``fingerprint``, ``path`` (relative to ``data.root`` where it lies under it) and pool sizes."""
        if self._pools is None:
            return None
        return {
            "source": self._pools.source,
            "fingerprint": fingerprint(self._pools),
            "path": describe_location(self._pools, self.spec.root),
            "sizes": list(self._pools.sizes),
        }

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.spec, "train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.spec, "val")

    def test_dataloader(self) -> list[DataLoader]:
        """``[rotated, unrotated]`` test sets, in the order of :data:`eqaug.training.module.TEST_SPLITS`."""
        return [
            self._loader(replace(self.spec, rotate=True, rotation=None), "test"),
            self._loader(replace(self.spec, rotate=False, rotation=None), "test"),
        ]
