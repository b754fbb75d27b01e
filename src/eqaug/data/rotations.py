"""Random rotations (Haar-random, or from a restricted set) and the fixed rotations that place the canvas.

A unit quaternion ``q = (w, x, y, z)`` drawn as a normalised standard Gaussian 4-vector is uniform
on S³, and ``q ↦ R(q)`` is a 2:1 covering S³ → SO(3) that pushes the uniform measure on S³ to
the Haar measure on SO(3). Rotation matrices follow ``s2cnn.grids`` (right-handed, acting on
column vectors); ``R(q) x = q x q*``.

Restricted sets (the augmentation-strength axis, :data:`ROTATION_SETS`).  In Euler angles
``R = R_z(α) R_y(β) R_z(γ)`` the unit quaternion is ``(w, z) = cos(β/2) (cos, sin)((α+γ)/2)`` and
``(x, y) = sin(β/2) (-sin, cos)((α-γ)/2)``, so ``u = x² + y² = sin²(β/2)``, the *polar tilt* ``β`` (the
angle by which ``R`` moves the poles), lives in the length of ``(x, y)`` and ``α ± γ`` in the directions
of the two pairs.  For a Gaussian ``q``, ``u ~ U(0, 1)`` independently of both directions (Haar: ``cos β``
uniform on ``[-1, 1]``).  The restricted sets keep the directions and change the length:

* ``tilt:θ`` — ``(x, y) ← sin(θ/2) (x, y)`` and ``(w, z)`` rescaled to keep ``|q| = 1``: ``cos β`` uniform
  on ``[cos θ, 1]`` (uniform on the spherical cap of the pole's image), ``α`` and ``γ`` uniform;
  ``tilt:180`` is the Haar measure, sample by sample the same rotation as ``so3``;
* ``z`` — ``tilt:0``: rotations about the polar axis by a uniform angle ``α + γ``;
* ``polar:θ`` — ``(x, y)`` of length exactly ``sin(θ/2)``: tilt exactly ``θ``, ``α`` and ``γ`` uniform (the
  test sets of the robustness curves).

Every set maps the same four Gaussians per sample, so the same sample index draws the same items under
every setting.
"""

from __future__ import annotations

import math

import numpy as np

from s2cnn.grids import euler_to_matrix

__all__ = [
    "quaternion_to_matrix",
    "haar_rotations",
    "restricted_rotations",
    "parse_rotation",
    "canonical_rotation",
    "polar_tilt",
    "projection_rotation",
    "PROJECTION_POINT_ANGLES",
    "ROTATION_SETS",
]

#: Values of ``data.rotation`` (``θ`` in degrees, ``0 ≤ θ ≤ 180``).
ROTATION_SETS = ("none", "z", "tilt:<degrees>", "polar:<degrees>", "so3")

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


def parse_rotation(value: str) -> tuple[str, float | None]:
    """``"none" | "z" | "so3" | "tilt:θ" | "polar:θ"`` → ``(kind, θ in degrees or None)``; a clear error otherwise."""
    allowed = ", ".join(repr(v) for v in ROTATION_SETS)
    bad = ValueError(f"data.rotation={value!r} is not allowed; choose one of {allowed} (0 <= degrees <= 180)")
    if not isinstance(value, str):
        raise bad
    if value in ("none", "z", "so3"):
        return value, None
    kind, sep, deg = value.partition(":")
    if kind not in ("tilt", "polar") or not sep:
        raise bad
    try:
        theta = float(deg)
    except ValueError:
        raise bad from None
    if not (0.0 <= theta <= 180.0) or math.isnan(theta):
        raise bad
    return kind, theta


def canonical_rotation(value: str) -> str:
    """``value`` with its angle written without a needless fraction (``"tilt:30.0"`` → ``"tilt:30"``)."""
    kind, theta = parse_rotation(value)
    if theta is None:
        return kind
    return f"{kind}:{int(theta) if float(theta).is_integer() else theta}"


def _unit_pairs(q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit quaternions' ``(w, z)`` and ``(x, y)`` pairs and ``u = x² + y²`` (``q``: ``[n, 4]``)."""
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    wz, xy = q[:, [0, 3]], q[:, [1, 2]]
    return wz, xy, np.sum(xy * xy, axis=-1)


def _direction(v: np.ndarray) -> np.ndarray:
    """Unit vectors along the rows of ``v`` (``(1, 0)`` for a zero row, a null set under the Gaussian)."""
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    safe = np.where(n > 0, n, 1.0)
    return np.where(n > 0, v / safe, np.array([1.0, 0.0]))


def restricted_rotations(gaussians: np.ndarray, rotation: str) -> np.ndarray:
    """Rotation matrices ``[n, 3, 3]`` of the set ``rotation`` (:func:`parse_rotation`) from standard normals ``[n, 4]``.

    See the module docstring; ``"so3"`` is :func:`haar_rotations`, ``"none"`` the identity.
    """
    gaussians = np.asarray(gaussians, dtype=np.float64)
    if gaussians.ndim != 2 or gaussians.shape[-1] != 4:
        raise ValueError(f"need standard normals of shape [n, 4], got {list(gaussians.shape)}")
    kind, theta = parse_rotation(rotation)
    if kind == "none":
        return np.broadcast_to(np.eye(3), (len(gaussians), 3, 3)).copy()
    if kind == "so3":
        return haar_rotations(gaussians)
    wz, xy, u = _unit_pairs(gaussians)
    s = math.sin(math.radians(theta if theta is not None else 0.0) / 2)
    if kind == "polar":
        xy_new = _direction(xy) * s
    else:  # tilt (z = tilt:0)
        xy_new = xy * s
    wz_new = _direction(wz) * np.sqrt(np.clip(1.0 - np.sum(xy_new * xy_new, axis=-1), 0.0, 1.0))[:, None]
    q = np.stack([wz_new[:, 0], xy_new[:, 0], xy_new[:, 1], wz_new[:, 1]], axis=-1)
    return quaternion_to_matrix(q)


def polar_tilt(rotations: np.ndarray) -> np.ndarray:
    """The polar tilt ``β ∈ [0, π]`` of rotation matrices ``[..., 3, 3]``: the angle between ``R e_z`` and ``e_z``."""
    return np.arccos(np.clip(np.asarray(rotations)[..., 2, 2], -1.0, 1.0))


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
