"""Stereographic projection of sphere points onto the canvas, and sampling of the canvas there.

The canvas function
-------------------
A canvas of ``S × S`` pixels lies in the plane tangent to the unit sphere at the south pole
``-e_z``. A point ``p = (p_x, p_y, p_z)`` of the sphere (in this *canvas frame*) is projected from
the north pole onto that plane,

    ``(u, v) = 2 (p_x, p_y) / (1 − p_z)``,

(``|(u, v)| = 2 tan(θ/2)`` at angle ``θ`` from the south pole). Pixel ``(r, c)`` has its centre at

    ``u = (r + ½ − S/2)·h``,   ``v = −(c + ½ − S/2)·h``,   ``h = 3/28``

(rows along ``+e_x``, columns along ``−e_y``; one 28-pixel item spans ``[−1.5, 1.5]²``, reaching
``2·atan(0.75) ≈ 74°`` from the south pole, as in Cohen et al. 2018 / Gerken et al. 2022). The image
value at ``p`` is the bilinear interpolant of the pixel values at the pixel centres, the canvas being
extended by zeros (so it is continuous and vanishes beyond half a pixel outside the canvas); the mask
value is the label of the pixel whose square contains ``(u, v)``, 0 outside the canvas.

A sample with rotation ``R`` and canvas placement ``Q`` (:func:`eqaug.data.rotations.projection_rotation`)
has the value ``f(x) = canvas((R Q)⁻¹ x)`` at the grid point ``x``: the signal is rotated by ``R`` in
the s2cnn convention ``f ↦ f∘R⁻¹``. Both are evaluated with :func:`torch.nn.functional.grid_sample`
(``align_corners=False`` puts the normalised coordinates ±1 at the outer pixel edges, exactly the
convention above; ``padding_mode="zeros"`` is the zero extension).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["PIXEL_PITCH", "stereographic_plane", "canvas_function", "render_on_points"]

#: Plane units per canvas pixel: 28 pixels span the square [−1.5, 1.5]² of the original generator.
PIXEL_PITCH = 3.0 / 28.0
#: Lower bound of ``1 − p_z`` (points this close to the north pole project far outside any canvas).
_MIN_DENOMINATOR = 1e-6


def stereographic_plane(points: torch.Tensor) -> torch.Tensor:
    """Plane coordinates ``(u, v) = 2 (p_x, p_y)/(1 − p_z)`` of sphere points ``[..., 3]`` → ``[..., 2]``."""
    den = (1.0 - points[..., 2:3]).clamp_min(_MIN_DENOMINATOR)
    return 2.0 * points[..., :2] / den


def _sample(
    images: torch.Tensor, masks: torch.Tensor | None, grid: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """grid_sample ``images``/``masks`` ``[n, S, S]`` at normalised ``(col, row)`` coordinates ``grid [n, P, 2]``."""
    n, n_points = grid.shape[:2]
    grid = grid.reshape(n, 1, n_points, 2)
    values = F.grid_sample(images[:, None], grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    labels = None
    if masks is not None:
        labels = F.grid_sample(masks[:, None], grid, mode="nearest", padding_mode="zeros", align_corners=False)
        labels = labels.reshape(n, n_points)
    return values.reshape(n, n_points), labels


def canvas_function(
    images: torch.Tensor, masks: torch.Tensor | None, points: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Evaluate the canvas function (module docstring) at arbitrary sphere points given in the canvas frame.

    Parameters
    ----------
    images : ``float [n, S, S]`` canvases (values in [0, 1]).
    masks : ``float [n, S, S]`` label canvases, or ``None``.
    points : unit vectors ``[n, ..., 3]`` (one set per canvas).

    Returns
    -------
    values ``[n, ...]`` (bilinear) and labels ``[n, ...]`` (nearest, as floats) or ``None``.
    """
    n, size = images.shape[0], images.shape[-1]
    shape = points.shape[:-1]
    uv = stereographic_plane(points.reshape(n, -1, 3).to(images.dtype))
    scale = 2.0 / (size * PIXEL_PITCH)
    grid = torch.stack([-uv[..., 1] * scale, uv[..., 0] * scale], dim=-1)
    values, labels = _sample(images, masks, grid)
    return values.reshape(shape), None if labels is None else labels.reshape(shape)


def render_on_points(
    images: torch.Tensor, masks: torch.Tensor | None, frames: torch.Tensor, points: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Sample each canvas at ``frames[i] @ x`` for all points ``x`` (fast path of :func:`canvas_function`).

    Parameters
    ----------
    images, masks : as in :func:`canvas_function`.
    frames : ``[n, 3, 3]`` matrices ``(R Q)ᵀ`` taking sphere points to the canvas frame.
    points : ``[P, 3]`` sphere points shared by all samples (e.g. the flattened SOFT grid).

    Returns
    -------
    values ``[n, P]`` and labels ``[n, P]`` (or ``None``), equal to ``canvas_function`` at ``frames @ x``.

    Notes
    -----
    The projection and the pixel scaling are folded into the frame matrices:
    rows ``(−s·F_y, s·F_x, −F_z)`` with ``s = 4/(S h)`` give ``(col·d, row·d, d − 1)`` where
    ``d = 1 − p_z``; one division then yields the normalised coordinates.
    """
    size = images.shape[-1]
    s = 4.0 / (size * PIXEL_PITCH)
    frames = frames.to(images.dtype)
    folded = torch.stack([-s * frames[:, 1], s * frames[:, 0], -frames[:, 2]], dim=1)  # [n, 3, 3]
    x, y, z = points.to(images.dtype).T.contiguous()
    # elementwise, not a matrix product: a BLAS kernel may round differently depending on the batch size,
    # and every sample must be bit-identical however it is batched
    numerators = folded[:, :, 0:1] * x
    numerators.addcmul_(folded[:, :, 1:2], y).addcmul_(folded[:, :, 2:3], z)
    den = numerators[:, 2:3].add_(1.0).clamp_min_(_MIN_DENOMINATOR)
    grid = (numerators[:, :2] / den).transpose(1, 2)
    return _sample(images, masks, grid)
