"""The order in which training samples are visited, resumable in the middle of an epoch.

Epoch ``e`` of a run with seed ``s`` visits the samples in the order ``randperm(n)`` drawn from a
``torch.Generator`` seeded with ``s * EPOCH_STRIDE + e``: a pure function of ``(s, e)``, so it does not
depend on how many epochs this process has run. :class:`ResumableDataLoader` counts the batches it
has handed out and implements Lightning's ``state_dict`` / ``load_state_dict`` protocol for
dataloaders, so a run resumed from a checkpoint written in the middle of an epoch visits exactly the
samples that the uninterrupted run would have visited next (in the same order, in the same batches).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Sampler

__all__ = ["EPOCH_STRIDE", "EpochShuffleSampler", "ResumableDataLoader"]

#: seeds of epoch generators: ``seed * EPOCH_STRIDE + epoch`` (distinct for epochs below the stride)
EPOCH_STRIDE = 1_000_003


class EpochShuffleSampler(Sampler[int]):
    """A fresh random permutation of ``range(n)`` per epoch, a pure function of ``(seed, epoch)``.

    Parameters
    ----------
    n : number of samples.
    seed : the run's seed (a non-negative integer).

    ``set_epoch(e)`` (called by Lightning at the start of every epoch) chooses the permutation;
    ``start`` (set by :meth:`ResumableDataLoader.load_state_dict`) skips the samples that were
    already visited in the epoch a run is resumed in.
    """

    def __init__(self, n: int, seed: int) -> None:
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        if not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.n = n
        self.seed = seed
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int) -> None:
        if not 0 <= epoch < EPOCH_STRIDE:
            raise ValueError(f"epoch must be in [0, {EPOCH_STRIDE}), got {epoch}")
        if epoch != self.epoch:
            self.epoch = epoch
            self.start = 0

    def permutation(self, epoch: int | None = None) -> torch.Tensor:
        """The visiting order of ``epoch`` (default: the current one)."""
        epoch = self.epoch if epoch is None else epoch
        generator = torch.Generator().manual_seed(self.seed * EPOCH_STRIDE + epoch)
        return torch.randperm(self.n, generator=generator)

    def __iter__(self) -> Iterator[int]:
        order = self.permutation()[self.start :]
        self.start = 0  # only the first pass after a resume is partial
        yield from order.tolist()

    def __len__(self) -> int:
        return self.n


class ResumableDataLoader(DataLoader):
    """A ``DataLoader`` whose position within the epoch is saved in and restored from checkpoints.

    The state is ``{"epoch", "batches"}``: the sampler's epoch and the number of batches handed out
    in it. Counting happens where batches leave the loader, so worker prefetching does not move it.
    Positions are only exact for an :class:`EpochShuffleSampler` (or no shuffling); with any other
    sampler (e.g. one that Lightning substitutes for distributed training) the state is empty and
    a resumed epoch starts from its beginning.
    """

    _batches_out = 0

    def __iter__(self) -> Iterator[Any]:
        sampler = self.sampler if isinstance(self.sampler, EpochShuffleSampler) else None
        self._batches_out = (sampler.start // self.batch_size) if sampler is not None and self.batch_size else 0
        for batch in super().__iter__():
            self._batches_out += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        if not isinstance(self.sampler, EpochShuffleSampler):
            return {}
        return {"epoch": self.sampler.epoch, "batches": self._batches_out}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if not state or not isinstance(self.sampler, EpochShuffleSampler):
            return
        epoch, batches = int(state["epoch"]), int(state["batches"])
        if batches >= len(self):  # saved at the end of an epoch: the next one starts afresh
            epoch, batches = epoch + 1, 0
        self.sampler.set_epoch(epoch)
        self.sampler.start = batches * self.batch_size
        self._batches_out = batches
