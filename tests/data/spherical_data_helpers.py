"""Helpers of the data-layer tests (imported by conftest.py and the tests): synthetic items and IDX files."""

from __future__ import annotations

import math

import numpy as np

from eqaug.testing import synthetic_items, write_idx_set

__all__ = ["N_TRAIN", "N_TEST", "synthetic_items", "write_idx_set", "reference_canvas_value", "centroid_direction"]

N_TRAIN, N_TEST = 40, 20


def reference_canvas_value(image: np.ndarray, mask: np.ndarray, p) -> tuple[float, int]:
    """Canvas function at one sphere point ``p`` (canvas frame), written out with scalar arithmetic.

    Stereographic projection from the north pole onto the plane tangent at the south pole,
    ``(u, v) = 2 (p_x, p_y)/(1 − p_z)``; pixel ``(r, c)`` centred at ``((r + ½ − S/2) h, −(c + ½ − S/2) h)``,
    ``h = 3/28``; bilinear between pixel centres with zeros outside; the mask of the pixel containing the point.
    """
    size, h = image.shape[0], 3.0 / 28.0
    den = 1.0 - float(p[2])
    if den < 1e-9:
        return 0.0, 0
    u, v = 2.0 * float(p[0]) / den, 2.0 * float(p[1]) / den
    r, c = u / h + size / 2 - 0.5, -v / h + size / 2 - 0.5
    r0, c0 = math.floor(r), math.floor(c)
    fr, fc = r - r0, c - c0

    def pixel(i, j):
        return float(image[i, j]) if 0 <= i < size and 0 <= j < size else 0.0

    value = (
        (1 - fr) * (1 - fc) * pixel(r0, c0)
        + (1 - fr) * fc * pixel(r0, c0 + 1)
        + fr * (1 - fc) * pixel(r0 + 1, c0)
        + fr * fc * pixel(r0 + 1, c0 + 1)
    )
    rn, cn = math.floor(u / h + size / 2), math.floor(-v / h + size / 2)
    label = int(mask[rn, cn]) if 0 <= rn < size and 0 <= cn < size else 0
    return value, label


def centroid_direction(images: np.ndarray, bandwidth: int) -> np.ndarray:
    """Unit vectors ``[n, 3]`` of the area-weighted mass centroids of images ``[n, 1, 2b, 2b]``."""
    from s2cnn.grids import quadrature_weights, s2_points

    points = s2_points(bandwidth).numpy()  # [2b, 2b, 3]
    weights = quadrature_weights(bandwidth).numpy()[:, None]  # area element over β
    mass = images[:, 0] * weights
    centre = np.einsum("nja,jac->nc", mass, points)
    return centre / np.linalg.norm(centre, axis=1, keepdims=True)
