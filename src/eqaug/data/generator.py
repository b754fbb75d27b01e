"""The spherical image generator: sample ``i`` of a split is a pure function of ``(spec, split, i)``.

Per sample ``i`` of split ``s`` (``train`` = 0, ``val`` = 1, ``test`` = 2) one PCG64 generator is seeded
with ``SeedSequence([spec.seed, s, i])``. It draws, in this order:

1. ``n_items`` uniforms → the items (with replacement from the split's pool: ``train`` draws from the
   train pool, ``val`` and ``test`` from the test pool, as in the paper);
2. ``2·n_items`` uniforms → the item offsets inside their layout cells, and, for ``n_items > 1``,
   ``g²`` uniforms → the cells (:mod:`eqaug.data.canvas`);
3. 4 standard normals → a Haar-random rotation ``R`` (a normalised Gaussian quaternion).

The items are drawn before the rotation, so ``rotate``, ``rotation`` and ``rotation_mode`` change only
``R`` (a restricted set maps the same Gaussians, :func:`eqaug.data.rotations.restricted_rotations`).
With ``rotate=False`` ``R = I``; with ``rotation_mode="per_chunk"`` all samples of a chunk
``c = i // chunk_size`` share the rotation drawn from ``SeedSequence([seed, s, c], spawn_key=(1,))``
(the original generator's behaviour, for fidelity studies).

With ``spec.conventions="gerken2022"`` the same draw is rendered by :mod:`eqaug.data.gerken2022`
(Gerken et al. 2022's generator: Driscoll–Healy grid, mirrored sphere, their interpolation, per-sample
rescaling, masks from the spherical image, projection origin above the north pole) instead of the following.

The value of sample ``i`` at the SOFT grid point ``x`` (``s2cnn.grids.s2_points``) is
``canvas((R Q)⁻¹ x)`` (:mod:`eqaug.data.projection`), ``Q`` placing the canvas at the projection point
(:func:`eqaug.data.rotations.projection_rotation`). Rendering a batch is vectorised: drawing costs
about 10 µs per sample in Python, the rest is a few tensor operations and two ``grid_sample`` calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from eqaug.data.canvas import cells_per_side, compose_canvases, default_canvas_size, place_items
from eqaug.data.gerken2022 import render as render_gerken2022
from eqaug.data.projection import render_on_points
from eqaug.data.rotations import projection_rotation, restricted_rotations
from eqaug.data.sources import PlanarPools, load_pools
from eqaug.data.spec import DataSpec
from s2cnn.grids import s2_points

__all__ = ["SPLITS", "POOL_OF_SPLIT", "SampleDraw", "SphericalGenerator", "canvas_size_of", "split_length"]

#: Split names and the ids that key their random streams.
SPLITS = {"train": 0, "val": 1, "test": 2}
#: The planar pool each split draws its items from.
POOL_OF_SPLIT = {"train": "train", "val": "test", "test": "test"}
_CHUNK_STREAM = 1
#: Samples rendered together (bounds the temporaries to a few MB at b = 50; ~10 % faster than whole batches).
_RENDER_CHUNK = 64


def canvas_size_of(spec: DataSpec) -> int:
    """``spec.canvas_size``, or the default for ``spec.n_items`` (:func:`eqaug.data.canvas.default_canvas_size`)."""
    return default_canvas_size(spec.n_items) if spec.canvas_size is None else spec.canvas_size


def split_length(spec: DataSpec, split: str) -> int:
    """Number of samples of ``split`` (``n_train``, ``n_val`` or ``n_test``)."""
    _check_split(split)
    return {"train": spec.n_train, "val": spec.n_val, "test": spec.n_test}[split]


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split={split!r} is not allowed; choose one of {', '.join(map(repr, SPLITS))}")


@dataclass
class SampleDraw:
    """Everything random about a batch of samples.

    Attributes
    ----------
    indices : ``int64 [n]`` sample indices.
    pool_indices, classes : ``int64 [n, n_items]`` items (rows of the pool) and their classes.
    tops, lefts : ``int64 [n, n_items]`` top-left corners of the items on the canvas.
    rotations : ``float64 [n, 3, 3]`` the rotations ``R`` (identity when ``rotate=False``).
    """

    indices: np.ndarray
    pool_indices: np.ndarray
    classes: np.ndarray
    tops: np.ndarray
    lefts: np.ndarray
    rotations: np.ndarray


class SphericalGenerator:
    """Generates samples of one split of a :class:`~eqaug.data.spec.DataSpec` (see the module docstring).

    Parameters
    ----------
    spec : the dataset specification.
    split : ``"train"``, ``"val"`` or ``"test"``.
    pools : planar pools to draw from; by default :func:`eqaug.data.sources.load_pools` of the spec.
    """

    def __init__(self, spec: DataSpec, split: str, pools: PlanarPools | None = None) -> None:
        _check_split(split)
        spec.validate()
        self.spec = spec
        self.split = split
        self.split_id = SPLITS[split]
        self.pools = pools if pools is not None else load_pools(spec.dataset, spec.source, spec.root)
        self.pool_images, self.pool_labels = self.pools.pool(POOL_OF_SPLIT[split])
        if len(self.pool_labels) == 0:
            raise ValueError(f"the {POOL_OF_SPLIT[split]} pool of {self.pools.path} is empty")
        self.canvas_size = canvas_size_of(spec)
        self.n_cells = cells_per_side(spec.n_items) ** 2 if spec.n_items > 1 else 0
        self.bandwidth = spec.bandwidth
        self.grid_points = s2_points(spec.bandwidth, dtype=torch.float32).reshape(-1, 3)
        self.placement = projection_rotation(spec.projection_point)

    def _chunk_rotation(self, chunk: int) -> np.ndarray:
        seq = np.random.SeedSequence([self.spec.seed, self.split_id, chunk], spawn_key=(_CHUNK_STREAM,))
        return np.random.default_rng(seq).standard_normal(4)

    def draw(self, indices: npt.ArrayLike) -> SampleDraw:
        """Draw items, positions and rotations of the samples ``indices`` (non-negative ints)."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if indices.size and indices.min() < 0:
            raise IndexError(f"sample indices must be >= 0, got {int(indices.min())}")
        k, spec = self.spec.n_items, self.spec
        n_uniforms = 3 * k + self.n_cells
        uniforms = np.empty((len(indices), n_uniforms))
        gaussians = np.empty((len(indices), 4))
        for row, i in enumerate(indices.tolist()):
            rng = np.random.default_rng(np.random.SeedSequence([spec.seed, self.split_id, i]))
            uniforms[row] = rng.random(n_uniforms)
            gaussians[row] = rng.standard_normal(4)
        pool_size = len(self.pool_labels)
        pool_indices = np.minimum((uniforms[:, :k] * pool_size).astype(np.int64), pool_size - 1)
        offsets = uniforms[:, k : 3 * k].reshape(-1, k, 2)
        tops, lefts = place_items(uniforms[:, 3 * k :], offsets, self.canvas_size)
        mode = spec.effective_rotation
        if mode != "none" and spec.rotation_mode == "per_chunk":
            chunks = indices // spec.chunk_size
            per_chunk = {c: self._chunk_rotation(c) for c in np.unique(chunks).tolist()}
            gaussians = np.array([per_chunk[c] for c in chunks.tolist()]).reshape(-1, 4)
        rotations = restricted_rotations(gaussians, mode)
        return SampleDraw(indices, pool_indices, self.pool_labels[pool_indices], tops, lefts, rotations)

    def canvases(self, draw: SampleDraw) -> tuple[np.ndarray, np.ndarray]:
        """``uint8 [n, S, S]`` canvases and label masks of a draw."""
        items = self.pool_images[draw.pool_indices]
        return compose_canvases(items, draw.classes, draw.tops, draw.lefts, self.canvas_size, self.spec.threshold)

    def frames(self, draw: SampleDraw) -> np.ndarray:
        """``[n, 3, 3]`` matrices ``(R Q)ᵀ`` taking sphere points to each sample's canvas frame."""
        return np.swapaxes(draw.rotations @ self.placement, 1, 2)

    def render(self, draw: SampleDraw) -> tuple[torch.Tensor, torch.Tensor]:
        """Images ``float32 [n, 1, 2b, 2b]`` in [0, 1] and targets of a draw.

        Targets: ``int64 [n]`` classes for ``task="cls"``, ``int64 [n, 2b, 2b]`` masks for ``task="seg"``.
        """
        if self.spec.conventions == "gerken2022":
            return self._render_gerken2022(draw)
        n, side = len(draw.indices), 2 * self.bandwidth
        canvas_images, canvas_masks = self.canvases(draw)
        images = torch.from_numpy(canvas_images).to(torch.float32).div_(255.0)
        seg = self.spec.task == "seg"
        masks = torch.from_numpy(canvas_masks).to(torch.float32) if seg else None
        frames = torch.from_numpy(self.frames(draw)).to(torch.float32)
        values = torch.empty(n, side * side, dtype=torch.float32)
        labels = torch.empty(n, side * side, dtype=torch.int64) if seg else None
        for start in range(0, n, _RENDER_CHUNK):  # chunks keep the temporaries small (cache, no page faults)
            part = slice(start, start + _RENDER_CHUNK)
            chunk_values, chunk_labels = render_on_points(
                images[part], masks[part] if seg else None, frames[part], self.grid_points
            )
            values[part] = chunk_values.clamp_(0.0, 1.0)
            if seg:
                labels[part] = chunk_labels
        values = values.reshape(n, 1, side, side)
        if seg:
            return values, labels.reshape(n, side, side)
        return values, torch.from_numpy(draw.classes[:, 0].copy())

    def _render_gerken2022(self, draw: SampleDraw) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`render` under Gerken et al.'s conventions (:mod:`eqaug.data.gerken2022`)."""
        n, side = len(draw.indices), 2 * self.bandwidth
        canvas_images, _ = self.canvases(draw)
        frames = self.frames(draw)
        seg = self.spec.task == "seg"
        values = np.empty((n, side * side), dtype=np.float32)
        labels = np.empty((n, side * side), dtype=np.int64) if seg else None
        for start in range(0, n, _RENDER_CHUNK):
            part = slice(start, start + _RENDER_CHUNK)
            items = dict(classes=draw.classes[part], tops=draw.tops[part], lefts=draw.lefts[part]) if seg else {}
            values[part], chunk_labels = render_gerken2022(
                canvas_images[part], frames[part], self.bandwidth, threshold=self.spec.threshold, **items
            )
            if seg:
                labels[part] = chunk_labels
        images = torch.from_numpy(values).reshape(n, 1, side, side)
        if seg:
            return images, torch.from_numpy(labels).reshape(n, side, side)
        return images, torch.from_numpy(draw.classes[:, 0].copy())

    def get_batch(self, indices: npt.ArrayLike) -> tuple[torch.Tensor, torch.Tensor]:
        """Generate the samples ``indices`` in one vectorised call: ``(images [n, 1, 2b, 2b], targets)``."""
        return self.render(self.draw(indices))
