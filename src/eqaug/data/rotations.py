"""Haar-random rotations and the fixed rotations that place the canvas on the sphere.

A unit quaternion ``q = (w, x, y, z)`` drawn as a normalised standard Gaussian 4-vector is uniform
on S³, and ``q ↦ R(q)`` is a 2:1 covering S³ → SO(3) that pushes the uniform measure on S³ to
the Haar measure on SO(3). Rotation matrices follow ``s2cnn.grids`` (right-handed, acting on
column vectors); ``R(q) x = q x q*``.
"""

from __future__ import annotations

import math

import numpy as np

from s2cnn.grids import euler_to_matrix

__all__ = ["quaternion_to_matrix", "haar_rotations", "projection_rotation", "PROJECTION_POINT_ANGLES"]

#: Colatitude β and longitude α of each projection point, in the s2cnn grid convention.
PROJECTION_POINT_ANGLES = {"south_pole": (math.pi, 0.0), "equator": (math.pi / 2, math.pi)}


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices ``[..., 3, 3]`` of quaternions ``[..., 4]`` ordered ``(w, x, y, z)`` (need not be unit)."""
    q = np.asarray(q, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ]
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def haar_rotations(gaussians: np.ndarray) -> np.ndarray:
    """Haar-distributed rotation matrices ``[n, 3, 3]`` from i.i.d. standard normals ``[n, 4]``."""
    gaussians = np.asarray(gaussians, dtype=np.float64)
    if gaussians.shape[-1] != 4:
        raise ValueError(f"need standard normals of shape [..., 4], got {list(gaussians.shape)}")
    return quaternion_to_matrix(gaussians)


def projection_rotation(projection_point: str) -> np.ndarray:
    """The rotation ``Q`` that carries the south-pole canvas frame to ``projection_point``.

    The canvas is built tangent to the sphere at the south pole ``-e_z``, canvas rows running along
    ``+e_x`` and columns along ``-e_y`` (so that, seen from outside the sphere, the item is not
    mirrored). ``Q`` maps ``-e_z`` to the projection point:

    * ``"south_pole"``: ``Q = I``;
    * ``"equator"``: the grid centre ``β = π/2, α = π`` (the point ``-e_x``), ``Q = R_y(π/2)``: rows then
      run along ``-e_z`` (down the β axis) and columns along ``-e_y`` (the direction of increasing α
      there), so the item appears upright and unmirrored in the equirectangular ``[β, α]`` image.
    """
    if projection_point == "south_pole":
        return np.eye(3)
    if projection_point == "equator":
        return euler_to_matrix(0.0, math.pi / 2, 0.0).numpy()
    raise ValueError(f"data.projection_point={projection_point!r} is not allowed; choose 'south_pole' or 'equator'")
