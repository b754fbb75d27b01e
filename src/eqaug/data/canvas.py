"""Planar canvases: where the items go and how they are pasted, with their segmentation masks.

Layout
------
The ``S × S`` canvas is divided into ``g × g`` cells of ``⌊S/g⌋`` pixels, ``g = ⌈√n_items⌉``. Each item
gets a distinct random cell (a uniformly random injection of items into cells) and a uniformly random
position of its 28 × 28 box inside that cell, so the boxes never overlap. The default canvas is 28
pixels for one item (the item fills it, as in the original generator) and ``28·g + 8`` otherwise
(64 for 2-4 items: 4 pixels of jitter per cell and axis; that canvas reaches 2·atan(1.71) ≈ 120° from
the tangent point at its edge midpoints and ≈ 135° at its corners, against 74° for the 28-pixel one).

Masks
-----
A pixel of an item belongs to it when its grey value is strictly above the threshold
(``DataSpec.threshold``: 150 for MNIST, 10 for FashionMNIST); it is labelled ``class + 1``, the
background 0. Images are pasted with ``max``; where masks overlap (impossible with this layout, but
defined) the later item wins.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["ITEM_SIDE", "cells_per_side", "default_canvas_size", "place_items", "compose_canvases"]

ITEM_SIDE = 28
#: Extra pixels of a multi-item canvas beyond ``28·g`` (the positional jitter, shared by the cells).
MULTI_ITEM_MARGIN = 8


def cells_per_side(n_items: int) -> int:
    """``g = ⌈√n_items⌉``, the number of layout cells per canvas side."""
    return math.isqrt(n_items - 1) + 1


def default_canvas_size(n_items: int) -> int:
    """28 for one item, ``28·g + 8`` for more (64 for 2-4 items)."""
    return ITEM_SIDE if n_items == 1 else ITEM_SIDE * cells_per_side(n_items) + MULTI_ITEM_MARGIN


def place_items(cell_keys: np.ndarray, offset_uniforms: np.ndarray, canvas_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-left corners of the items' boxes.

    Parameters
    ----------
    cell_keys : ``[n, g²]`` uniforms; the items take the cells of the ``n_items`` smallest keys
        (a uniformly random injection of items into cells).
    offset_uniforms : ``[n, n_items, 2]`` uniforms in [0, 1) → offsets ``0 … ⌊S/g⌋ − 28`` in each cell.
    canvas_size : ``S``.

    Returns
    -------
    tops, lefts : ``int64 [n, n_items]``.
    """
    n, n_items = offset_uniforms.shape[:2]
    g = cells_per_side(n_items)
    cell = canvas_size // g
    if cell < ITEM_SIDE:
        raise ValueError(
            f"canvas_size={canvas_size} is too small for {n_items} items; it must be at least {ITEM_SIDE * g}"
        )
    if g == 1:
        cells = np.zeros((n, n_items), dtype=np.int64)
    else:
        cells = np.argsort(cell_keys, axis=1, kind="stable")[:, :n_items]
    offsets = np.minimum((offset_uniforms * (cell - ITEM_SIDE + 1)).astype(np.int64), cell - ITEM_SIDE)
    tops = (cells // g) * cell + offsets[..., 0]
    lefts = (cells % g) * cell + offsets[..., 1]
    return tops, lefts


def compose_canvases(
    items: np.ndarray, classes: np.ndarray, tops: np.ndarray, lefts: np.ndarray, canvas_size: int, threshold: int
) -> tuple[np.ndarray, np.ndarray]:
    """Paste items into canvases and build their label masks.

    Parameters
    ----------
    items : ``uint8 [n, k, 28, 28]``; classes : ``int [n, k]`` in 0..9; tops, lefts : ``int [n, k]``.
    canvas_size : ``S``; threshold : grey value strictly above which an item pixel is foreground.

    Returns
    -------
    images : ``uint8 [n, S, S]``; masks : ``uint8 [n, S, S]`` with 0 = background, ``class + 1`` = item.
    """
    n, k = items.shape[:2]
    images = np.zeros((n, canvas_size, canvas_size), dtype=np.uint8)
    masks = np.zeros_like(images)
    foreground = items > threshold
    labels = (np.asarray(classes) + 1).astype(np.uint8)
    # a loop of slice operations is ~3× faster here than one fancy-indexed update per item
    for i in range(n):
        for j in range(k):  # in item order: later items win where masks overlap
            rows = slice(tops[i, j], tops[i, j] + ITEM_SIDE)
            cols = slice(lefts[i, j], lefts[i, j] + ITEM_SIDE)
            region = images[i, rows, cols]
            np.maximum(region, items[i, j], out=region)
            np.copyto(masks[i, rows, cols], labels[i, j], where=foreground[i, j])
    return images, masks
