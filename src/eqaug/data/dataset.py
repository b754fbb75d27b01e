"""``torch.utils.data`` access to a spherical split: a map-style Dataset whose batches are generated in one call.

``DataLoader`` (torch ≥ 2.1) fetches a batch through ``dataset.__getitems__(indices)``;
:class:`SphericalDataset` answers that with one vectorised :meth:`SphericalGenerator.get_batch` call and
:func:`collate_batch` passes the stacked tensors through. With any other ``collate_fn`` (e.g. the default)
the result still behaves as the usual list of ``(image, target)`` pairs. Samples are generated on the fly
(inside the DataLoader workers when ``num_workers > 0``); because sample ``i`` is a pure function of
``(spec, split, i)``, workers need no seeding and any order or batching yields the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch.utils.data import DataLoader, Dataset, default_collate

from eqaug.data.generator import SphericalGenerator, split_length
from eqaug.data.order import EpochShuffleSampler, ResumableDataLoader
from eqaug.data.sources import PlanarPools
from eqaug.data.spec import DataSpec

__all__ = ["SphericalDataset", "SampleBatch", "collate_batch", "make_dataloader"]


class SampleBatch(list):
    """A batch as a list of ``(image, target)`` pairs that also keeps the stacked tensors.

    Attributes
    ----------
    images : ``float32 [n, 1, 2b, 2b]``; targets : ``int64 [n]`` or ``int64 [n, 2b, 2b]``.
    """

    def __init__(self, images: torch.Tensor, targets: torch.Tensor) -> None:
        super().__init__(zip(images, targets))
        self.images, self.targets = images, targets


def collate_batch(samples: SampleBatch | Sequence[Any]) -> tuple[torch.Tensor, torch.Tensor] | Any:
    """Collate function: a :class:`SampleBatch` passes through as ``(images, targets)``; anything else is
    handed to ``torch.utils.data.default_collate``."""
    if isinstance(samples, SampleBatch):
        return samples.images, samples.targets
    return default_collate(samples)


class SphericalDataset(Dataset):
    """Split ``split`` (``"train"``, ``"val"``, ``"test"``) of the spherical dataset ``spec``.

    ``len`` is ``spec.n_train`` / ``n_val`` / ``n_test``; ``dataset[i]`` is ``(image [1, 2b, 2b] float32,
    target)`` with target an ``int64`` scalar (``cls``) or ``int64 [2b, 2b]`` mask (``seg``).
    With ``spec.cache_dir`` set, the whole split is generated once (or read) here, at construction, and
    served from memory (:mod:`eqaug.data.cache`).

    Parameters
    ----------
    spec : the dataset specification.
    split : ``"train"``, ``"val"`` or ``"test"``.
    pools : planar pools (default: :func:`eqaug.data.sources.load_pools` of the spec).
    """

    def __init__(self, spec: DataSpec, split: str, pools: PlanarPools | None = None) -> None:
        self.spec = spec
        self.split = split
        self.generator = SphericalGenerator(spec, split, pools)
        self.length = split_length(spec, split)
        self._cached: tuple[torch.Tensor, torch.Tensor] | None = None
        if spec.cache_dir is not None:
            from eqaug.data.cache import cached_split

            images, targets = cached_split(self.generator, self.length, spec.cache_dir)
            self._cached = torch.from_numpy(images), torch.from_numpy(targets)

    def __len__(self) -> int:
        return self.length

    def _checked(self, indices: npt.ArrayLike) -> np.ndarray:
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if indices.size and (indices.min() < -self.length or indices.max() >= self.length):
            bad = indices[(indices < -self.length) | (indices >= self.length)][0]
            raise IndexError(f"index {int(bad)} is out of range for the {self.split} split of {self.length} samples")
        return np.where(indices < 0, indices + self.length, indices)

    def get_batch(self, indices: npt.ArrayLike) -> tuple[torch.Tensor, torch.Tensor]:
        """``(images float32 [n, 1, 2b, 2b], targets int64 [n] or [n, 2b, 2b])`` of the samples ``indices``."""
        indices = self._checked(indices)
        if self._cached is None:
            return self.generator.get_batch(indices)
        images, targets = self._cached
        where = torch.from_numpy(indices)
        return images[where], targets[where].to(torch.int64)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        images, targets = self.get_batch([index])
        return images[0], targets[0]

    def __getitems__(self, indices: list[int]) -> SampleBatch:
        return SampleBatch(*self.get_batch(indices))


def make_dataloader(
    spec: DataSpec,
    split: str,
    batch_size: int,
    shuffle: bool | None = None,
    num_workers: int = 0,
    drop_last: bool = False,
    seed: int = 0,
    pin_memory: bool = False,
    pools: PlanarPools | None = None,
) -> DataLoader:
    """A ``DataLoader`` over ``SphericalDataset(spec, split)`` that generates each batch in one call.

    ``shuffle`` defaults to ``split == "train"``; a shuffled loader visits the samples in the order of
    :class:`~eqaug.data.order.EpochShuffleSampler` (a function of ``seed`` and the epoch) and resumes
    in the middle of an epoch (:class:`~eqaug.data.order.ResumableDataLoader`). The pools are loaded
    once, here, and inherited by the workers (if any), which persist across epochs.
    """
    dataset = SphericalDataset(spec, split, pools)
    shuffle = (split == "train") if shuffle is None else shuffle
    return ResumableDataLoader(
        dataset,
        batch_size=batch_size,
        sampler=EpochShuffleSampler(len(dataset), seed) if shuffle else None,
        num_workers=num_workers,
        collate_fn=collate_batch,
        drop_last=drop_last,
        pin_memory=pin_memory,
        persistent_workers=num_workers > 0,
    )
