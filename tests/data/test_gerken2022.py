"""``data.conventions="gerken2022"``: each of the six rules of Gerken et al.'s generator, the unchanged default,
run keys and cache keys (:mod:`eqaug.data.gerken2022`)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from eqaug.data import gerken2022 as g
from eqaug.data.cache import fingerprint
from eqaug.data.generator import SphericalGenerator
from eqaug.data.sources import PlanarPools
from eqaug.data.spec import DataSpec
from eqaug.training import records

REPO_ROOT = Path(__file__).resolve().parents[2]


def _pools_of(image: np.ndarray, label: int = 3) -> PlanarPools:
    """Pools whose every item is ``image`` (``uint8 [28, 28]``) of class ``label``."""
    images = np.repeat(image[None].astype(np.uint8), 4, axis=0)
    labels = np.full(4, label, dtype=np.int64)
    return PlanarPools("mnist", "fixture", "<memory>", images, labels, images.copy(), labels.copy())


def _one_pixel(r: int, c: int, size: int = 28) -> np.ndarray:
    image = np.zeros((size, size), dtype=np.uint8)
    image[r, c] = 255
    return image


# ---------------------------------------------------------------------------------------------- spec


def test_conventions_is_validated_and_defaults_to_eqaug():
    assert DataSpec().conventions == "eqaug"
    with pytest.raises(
        ValueError, match=r"data\.conventions='cohen2018' is not allowed; choose one of 'eqaug', 'gerken2022'"
    ):
        DataSpec(conventions="cohen2018")
    with pytest.raises(ValueError, match=r"data\.conventions="):
        DataSpec.from_config({"conventions": "Gerken2022"})
    assert DataSpec.from_config({"conventions": "gerken2022"}).conventions == "gerken2022"


# ------------------------------------------------------------------------------------ rule 1: the grid


def test_rule1_driscoll_healy_grid_includes_the_pole():
    b = 6
    points = g.grid_points(b).reshape(2 * b, 2 * b, 3)
    beta = np.arccos(np.clip(points[:, 0, 2], -1, 1))
    np.testing.assert_allclose(beta, np.pi * np.arange(2 * b) / (2 * b), atol=1e-12)
    np.testing.assert_allclose(points[0], np.tile([0.0, 0.0, 1.0], (2 * b, 1)), atol=1e-15)  # β_0 = 0: the pole
    alpha = np.arctan2(points[1, :, 1], points[1, :, 0]) % (2 * np.pi)
    np.testing.assert_allclose(alpha, np.pi * np.arange(2 * b) / b, atol=1e-12)
    soft = g.grid_points(b, g.EQAUG).reshape(2 * b, 2 * b, 3)
    np.testing.assert_allclose(np.arccos(soft[:, 0, 2]), np.pi * (2 * np.arange(2 * b) + 1) / (4 * b), atol=1e-12)


def test_rules_1_2_3_6_a_generated_sample_is_the_scalar_formula_at_the_driscoll_healy_points(mnist_pools):
    """Value at grid point (j, k): β = πj/(2b), α = πk/b, p = x(β, α) projected from (0, 0, 1 + ε),
    ρ = u/h + 14, γ = +v/h + 14, skip-the-middle interpolation, then min–max rescaling of the sample."""
    b = 8
    gen = SphericalGenerator(DataSpec(bandwidth=b, conventions="gerken2022", rotate=False), "test", mnist_pools)
    draw = gen.draw([0])
    images, _ = gen.render(draw)
    canvas = gen.canvases(draw)[0][0]
    raw = np.empty((2 * b, 2 * b))
    for j in range(2 * b):
        for k in range(2 * b):
            beta, alpha = np.pi * j / (2 * b), np.pi * k / b
            x, y, z = np.sin(beta) * np.cos(alpha), np.sin(beta) * np.sin(alpha), np.cos(beta)
            scale = (2 + g.EPSILON) / (1 + g.EPSILON - z)
            raw[j, k] = _skip_middle_reference(canvas, scale * x * 28 / 3 + 14, scale * y * 28 / 3 + 14)
    expected = (raw - raw.min()) / (raw.max() - raw.min())
    np.testing.assert_allclose(images[0, 0].numpy(), expected, atol=1.001 / 255)  # uint8 floor
    assert (images[0, 0].numpy() > 0).sum() > 10


# ------------------------------------------------------------------------------- rule 2: handedness


def test_rule2_the_sphere_is_eqaugs_mirror_image():
    """A pixel right of the centre column lands at +y with gerken2022 and at −y with eqaug."""
    pools = _pools_of(_one_pixel(14, 22))
    centres = {}
    for conventions in ("eqaug", "gerken2022"):
        gen = SphericalGenerator(DataSpec(bandwidth=30, conventions=conventions, rotate=False), "train", pools)
        images, _ = gen.get_batch([0])
        points = g.grid_points(30, g.GERKEN2022 if conventions == "gerken2022" else g.EQAUG)
        weights = images[0, 0].numpy().reshape(-1, 1).astype(np.float64)
        centres[conventions] = (weights * points).sum(0) / weights.sum()
    assert centres["eqaug"][1] < -0.2 and centres["gerken2022"][1] > 0.2
    # mirrored; theirs half a pixel nearer the centre (pixel centres at integers, rule 3)
    assert 0.85 < -centres["gerken2022"][1] / centres["eqaug"][1] < 1.0
    assert centres["eqaug"][2] < 0 and centres["gerken2022"][2] < 0  # both on the southern hemisphere


def test_rule2_alone_is_exactly_a_mirror_of_the_canvas_columns(mnist_pools):
    gen = SphericalGenerator(DataSpec(bandwidth=12, rotate=True), "train", mnist_pools)
    draw = gen.draw(np.arange(4))
    canvases, _ = gen.canvases(draw)
    frames = gen.frames(draw)
    mirrored, _ = g.render(canvases, frames, 12, switches=dataclasses.replace(g.EQAUG, handedness=True))
    flipped, _ = g.render(np.ascontiguousarray(canvases[:, :, ::-1]), frames, 12, switches=g.EQAUG)
    np.testing.assert_allclose(mirrored, flipped, atol=1e-6)
    unmirrored, _ = g.render(canvases, frames, 12, switches=g.EQAUG)
    assert np.abs(mirrored - unmirrored).max() > 0.5


def test_rule2_and_3_pixel_coordinates():
    rho, gamma = g.pixel_coordinates(np.array([-1.5, 0.0, 0.0]), np.array([-1.5, 0.0, 0.3]), 28)
    np.testing.assert_allclose(rho, [0.0, 14.0, 14.0])  # pixel centres at integers, the corner at pixel 0
    np.testing.assert_allclose(gamma, [0.0, 14.0, 14.0 + 0.3 * 28 / 3])  # +v → larger columns
    rho, gamma = g.pixel_coordinates(np.array([0.0]), np.array([0.3]), 28, g.EQAUG)
    np.testing.assert_allclose([rho[0], gamma[0]], [13.5, 13.5 - 0.3 * 28 / 3])  # eqaug: +½ centres, −v


# --------------------------------------------------------------------- rule 3: interpolation, rescale


def _skip_middle_reference(image: np.ndarray, rho: float, gamma: float) -> float:
    """Their formula with scalars: pixels trunc(ρ) ± 1 and trunc(γ) ± 1, weights (i+1−ρ) and (ρ−i+1)."""
    size = image.shape[0]
    i, j = math.trunc(rho), math.trunc(gamma)

    def pixel(r, c):
        return float(image[r, c]) if 0 <= r < size and 0 <= c < size else 0.0

    total = 0.0
    for r, wr in ((i - 1, i + 1 - rho), (i + 1, rho - i + 1)):
        for c, wc in ((j - 1, j + 1 - gamma), (j + 1, gamma - j + 1)):
            total += wr * wc * pixel(r, c)
    return total


def test_rule3_interpolation_skips_the_middle_pixel():
    image = _one_pixel(10, 12)[None].astype(np.float64) / 255.0
    at = np.array([[10.0, 12.0], [11.0, 12.0], [11.0, 13.0], [11.25, 13.5], [9.0, 11.0], [10.5, 12.0]])
    values = g.interpolate(image, at[None, :, 0], at[None, :, 1])[0]
    # the pixel's own centre: zero (its neighbours 9 and 11 are used); (11, 13): the pixel with weight 1·1
    np.testing.assert_allclose(values, [0.0, 0.0, 1.0, 0.75 * 0.5, 1.0, 0.0], atol=1e-15)
    bilinear = g.interpolate(image, at[None, :, 0], at[None, :, 1], skip_middle=False)[0]
    assert bilinear[0] == 1.0 and bilinear[2] == 0.0  # the ordinary rule at the same points
    # weights sum to 2 per axis: a constant canvas interpolates to 4 inside
    assert g.interpolate(np.ones((1, 28, 28)), np.array([[7.3]]), np.array([[20.6]]))[0, 0] == pytest.approx(4.0)


def test_rule3_interpolation_matches_the_scalar_formula_with_truncation_towards_zero():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (28, 28)).astype(np.uint8)
    at = rng.uniform(-2.5, 30.5, (500, 2))
    at[:4] = [[-0.5, 3.2], [-1.5, 5.0], [27.5, -0.25], [0.0, 0.0]]  # trunc(−0.5) = 0 (floor would be −1)
    values = g.interpolate(image[None], at[None, :, 0], at[None, :, 1])[0]
    expected = [_skip_middle_reference(image, r, c) for r, c in at]
    np.testing.assert_allclose(values, expected, rtol=1e-12, atol=1e-9)
    assert values[0] == pytest.approx((0.5) * ((4 - 3.2) * image[1, 2] + (3.2 - 2) * image[1, 4]))


def test_rule3_per_sample_min_max_rescaling_to_uint8():
    out = g.rescale_to_uint8(np.array([[0.0, 1.0, 2.0, 4.0], [3.0, 3.0, 3.0, 3.0], [-2.0, 0.0, 2.0, 1.0]]))
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, [[0, 63, 127, 255], [0, 0, 0, 0], [0, 127, 255, 191]])


def test_rule3_generated_images_are_rescaled_uint8_over_255(mnist_pools):
    gen = SphericalGenerator(DataSpec(bandwidth=16, conventions="gerken2022"), "train", mnist_pools)
    images, _ = gen.get_batch(np.arange(6))
    assert images.dtype == torch.float32 and images.shape == (6, 1, 32, 32)
    grey = images.numpy().reshape(6, -1) * 255.0
    np.testing.assert_allclose(grey, np.round(grey), atol=1e-4)  # k/255
    np.testing.assert_array_equal(grey.min(axis=1).round(), 0)
    np.testing.assert_array_equal(grey.max(axis=1).round(), 255)  # every sample spans 0..255


# ------------------------------------------------------------------------------------- rule 4: masks


def test_rule4_mask_is_the_projected_value_above_the_threshold(mnist_pools):
    gen = SphericalGenerator(DataSpec(bandwidth=16, conventions="gerken2022"), "train", mnist_pools)
    draw = gen.draw(np.arange(16))
    images, masks = gen.render(draw)
    grey = np.round(images[:, 0].numpy() * 255)
    expected = (grey > 150) * (draw.classes[:, 0, None, None] + 1)
    np.testing.assert_array_equal(masks.numpy(), expected)
    assert masks.dtype == torch.int64 and (masks > 0).any()
    eqaug_images, eqaug_masks = SphericalGenerator(DataSpec(bandwidth=16), "train", mnist_pools).render(draw)
    eqaug_rule = (np.round(eqaug_images[:, 0].numpy() * 255) > 150) * (draw.classes[:, 0, None, None] + 1)
    assert (eqaug_masks.numpy() != eqaug_rule).any()  # eqaug's planar rule is another rule
    lower = SphericalGenerator(
        DataSpec(bandwidth=16, conventions="gerken2022", mask_threshold=60), "train", mnist_pools
    )
    _, wider = lower.render(draw)
    np.testing.assert_array_equal(wider.numpy(), (grey > 60) * (draw.classes[:, 0, None, None] + 1))


def test_rule4_several_items_take_the_class_of_the_nearest_box(mnist_pools):
    gen = SphericalGenerator(DataSpec(bandwidth=16, n_items=4, conventions="gerken2022"), "train", mnist_pools)
    draw = gen.draw(np.arange(8))
    images, masks = gen.render(draw)
    grey = np.round(images[:, 0].numpy() * 255)
    np.testing.assert_array_equal(masks.numpy() > 0, grey > 150)
    for mask, classes in zip(masks.numpy(), draw.classes):
        assert set(np.unique(mask)) <= {0, *(classes + 1).tolist()}
        assert len(np.unique(mask)) >= 3  # several items visible


# ---------------------------------------------------------------------------------- rule 5: rotations


def test_rule5_one_rotation_per_chunk_of_500(synthetic_pools):
    spec = DataSpec(bandwidth=4, conventions="gerken2022")
    assert spec.rotation_mode == "per_chunk" and spec.chunk_size == 500
    draw = SphericalGenerator(spec, "train", synthetic_pools).draw([0, 1, 499, 500, 999, 1000])
    r = draw.rotations
    for i in (1, 2):
        np.testing.assert_array_equal(r[i], r[0])
    np.testing.assert_array_equal(r[4], r[3])
    assert not np.allclose(r[3], r[0]) and not np.allclose(r[5], r[3])
    # gerken2022 always shares rotations per chunk (an explicit per_sample cannot be told from the default);
    # the chunk length stays a setting
    assert DataSpec(conventions="gerken2022", rotation_mode="per_sample").rotation_mode == "per_chunk"
    short = SphericalGenerator(DataSpec(bandwidth=4, conventions="gerken2022", chunk_size=3), "train", synthetic_pools)
    r = short.draw([0, 2, 3]).rotations
    np.testing.assert_array_equal(r[1], r[0])
    assert not np.allclose(r[2], r[0])


# ------------------------------------------------------------------------------------ rule 6: origin


def test_rule6_origin_above_the_north_pole():
    theta = np.radians([0.0, 30.0, 60.0, 74.0])  # angle from the south pole
    p = np.stack([np.sin(theta), np.zeros_like(theta), -np.cos(theta)], axis=-1)
    u, _ = g.plane_coordinates(p, origin=True)
    u_exact, _ = g.plane_coordinates(p, origin=False)
    eps = g.EPSILON
    np.testing.assert_allclose(u, (2 + eps) * np.sin(theta) / (1 + eps + np.cos(theta)), rtol=1e-13)
    np.testing.assert_allclose(u_exact, 2 * np.tan(theta / 2), rtol=1e-13)
    assert np.all(np.abs(u - u_exact) < 6e-4)  # < 0.006 pixel on the 28-pixel canvas
    pole = np.array([[0.0, 0.0, 1.0]])
    assert g.plane_coordinates(pole, origin=True)[0][0] == 0.0  # the north pole lands on the canvas centre
    assert g.plane_coordinates(pole, origin=False)[0][0] > 1e6  # the exact projection sends it far away


def test_rule6_the_north_pole_row_shows_the_canvas_centre():
    """Unrotated, every point of the β = 0 row is the pole, projected to the canvas centre (ρ, γ) = (14, 14):
    its raw value is I[13,13] + I[13,15] + I[15,13] + I[15,15] (weights 1), then rescaled with the sample."""
    image = _one_pixel(20, 20)
    image[13, 15] = 200
    gen = SphericalGenerator(DataSpec(bandwidth=10, conventions="gerken2022", rotate=False), "train", _pools_of(image))
    draw = gen.draw([0])
    images, _ = gen.render(draw)
    canvases, _ = gen.canvases(draw)
    frames = gen.frames(draw)
    unscaled, _ = g.render(canvases, frames, 10, switches=dataclasses.replace(g.GERKEN2022, rescale=False))
    raw_max = unscaled.astype(np.float64).max() * 4 * 255  # undo the normalisations of the unscaled values
    pole_row = images[0, 0, 0].numpy()
    assert np.all(pole_row == pole_row[0])
    assert pole_row[0] * 255 == pytest.approx(math.floor(255 * 200 / raw_max), abs=1e-3)
    assert pole_row[0] > 0.1
    no_origin = dataclasses.replace(g.GERKEN2022, origin=False)
    values, _ = g.render(canvases, frames, 10, switches=no_origin)
    assert np.all(values[0, :20] == 0.0)  # from the exact north pole the row stays dark


# ------------------------------------------------------------------------------- eqaug is unchanged

#: Computed with the generator before ``conventions`` existed: (sha256[:16] of the targets, image projections).
_BEFORE = {
    "seg": (
        dict(bandwidth=10),
        "train",
        "b8aaaadeda783fbd",
        [
            -1.24998435,
            -6.80829263,
            0.216051768,
            -0.538665733,
            -1.99388247,
            -1.24293355,
            -3.46625301,
            2.76954288,
            5.42555945,
            -3.11742375,
            -1.05428148,
            -2.69743701,
        ],
    ),
    "cls": (
        dict(bandwidth=10, task="cls", rotate=False),
        "test",
        "2435e1493e204461",
        [
            -5.85118582,
            -4.84846624,
            -2.14129853,
            -4.95297544,
            0.0398188934,
            4.68464564,
            -4.13152016,
            -1.18505805,
            -8.15212564,
            -11.5719163,
            -11.3144748,
            3.47502439,
        ],
    ),
    "seg4": (
        dict(bandwidth=12, n_items=4, rotation_mode="per_chunk", chunk_size=5),
        "train",
        "17bde26c5111bcd5",
        [
            5.49403712,
            1.38678734,
            -0.333934704,
            -4.60064036,
            4.90087342,
            3.16996516,
            3.99155386,
            12.3154761,
            4.49536379,
            11.2279805,
            9.55636099,
            4.71231426,
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(_BEFORE))
def test_eqaug_output_is_what_it_was_before(name, mnist_pools):
    kwargs, split, target_digest, projections = _BEFORE[name]
    for spec in (DataSpec(**kwargs), DataSpec(**kwargs, conventions="eqaug")):
        images, targets = SphericalGenerator(spec, split, mnist_pools).get_batch(np.arange(12))
        assert hashlib.sha256(targets.numpy().tobytes()).hexdigest()[:16] == target_digest
        weights = np.random.default_rng(0).standard_normal(images[0].numel())
        np.testing.assert_allclose(images.numpy().reshape(12, -1).astype(np.float64) @ weights, projections, rtol=1e-6)


def test_the_float64_renderer_with_eqaugs_rules_is_eqaugs_generator(mnist_pools):
    gen = SphericalGenerator(DataSpec(bandwidth=16, n_items=4), "train", mnist_pools)
    draw = gen.draw(np.arange(8))
    images, masks = gen.render(draw)
    canvases, planar = gen.canvases(draw)
    values, labels = g.render(
        canvases,
        gen.frames(draw),
        16,
        classes=draw.classes,
        tops=draw.tops,
        lefts=draw.lefts,
        planar_masks=planar,
        switches=g.EQAUG,
    )
    np.testing.assert_allclose(values, images.numpy().reshape(8, -1), atol=1e-5)
    assert (labels != masks.numpy().reshape(8, -1)).mean() < 0.005  # ties at pixel edges under float32


def test_gerken2022_is_deterministic_and_independent_of_batching(mnist_pools):
    spec = DataSpec(bandwidth=12, conventions="gerken2022")
    a = SphericalGenerator(spec, "val", mnist_pools).get_batch(np.arange(70))  # crosses a render chunk
    b = SphericalGenerator(spec, "val", mnist_pools).get_batch([66, 3])
    assert a[0][66].numpy().tobytes() == b[0][0].numpy().tobytes()
    assert a[1][3].numpy().tobytes() == b[1][1].numpy().tobytes()
    cls = SphericalGenerator(DataSpec(bandwidth=12, task="cls", conventions="gerken2022"), "test", mnist_pools)
    images, labels = cls.get_batch(np.arange(5))
    assert images.shape == (5, 1, 24, 24) and labels.dtype == torch.int64 and labels.shape == (5,)


# ------------------------------------------------------------------------------ run keys, cache keys


def _committed_records() -> list[dict]:
    out = []
    for path in sorted((REPO_ROOT / "results" / "runs").glob("*/*.json")):
        record = json.loads(path.read_text())
        if isinstance(record.get("config"), dict) and records.DATA_IDENTITY_KEY in record["config"]:
            out.append(record)
    return out


def test_committed_records_keep_their_run_keys():
    found = _committed_records()
    if not found:
        pytest.skip("no committed run records")
    for record in found:
        config = record["config"]
        assert records.run_key(config) == record["run_key"]
        if config["data"].get("conventions", "eqaug") != "eqaug":
            continue  # a run on another generator's conventions: its key names them (checked above)
        with_field = {**config, "data": {**config["data"], "conventions": "eqaug"}}
        assert records.run_key(with_field) == record["run_key"]
    config = found[0]["config"]
    theirs = records.run_key({**config, "data": {**config["data"], "conventions": "gerken2022"}})
    assert theirs != found[0]["run_key"] and "-gerken2022__" in theirs


def test_conventions_composes_from_the_command_line_into_the_run_key(compose_train):
    from eqaug.testing import TINY
    from eqaug.training.run import to_run_config, with_data_identity

    def key(*overrides: str) -> tuple[str, dict]:
        _, resolved = to_run_config(compose_train(["model=cnn_seg_tiny", *TINY, *overrides]))
        return records.run_key(with_data_identity(resolved)), resolved

    default, resolved = key()
    assert resolved["data"]["conventions"] == "eqaug"
    assert key("data.conventions=eqaug")[0] == default
    theirs, resolved = key("data.conventions=gerken2022")
    assert theirs != default and resolved["data"]["rotation_mode"] == "per_chunk"
    with pytest.raises(ValueError, match=r"data\.conventions='soft' is not allowed"):
        key("data.conventions=soft")


def test_cache_key_of_eqaug_is_unchanged_and_gerken2022_has_its_own(synthetic_pools):
    eqaug = SphericalGenerator(DataSpec(bandwidth=8), "train", synthetic_pools)
    assert fingerprint(eqaug, 10) == "3bd7bb24d532b3ba9492"  # the key before conventions existed
    theirs = SphericalGenerator(DataSpec(bandwidth=8, conventions="gerken2022"), "train", synthetic_pools)
    assert fingerprint(theirs, 10) != fingerprint(eqaug, 10)


# ---------------------------------------------------------------------------------------- measuring


def test_convention_differences_reports_every_rule(mnist_pools, capsys):
    result = g.convention_differences(bandwidth=8, n_glyphs=4, pools=mnist_pools)
    assert set(result["differences"]) >= {*g.SWITCH_NAMES, "all", "origin_on_dh_grid"}
    assert result["checks"]["gerken2022_renderer_vs_generator_max_abs"] == 0.0
    assert result["checks"]["eqaug_renderer_vs_generator_max_abs"] < 1e-5
    diff = result["differences"]
    assert diff["handedness"]["image_rel_l2"]["mean"] > 0.3 and diff["all"]["image_rel_l2"]["mean"] > 0.3
    assert diff["mask"]["image_rel_l2"]["mean"] == 0.0 and diff["mask"]["mask_changed"]["mean"] > 0
    assert result["rotations"]["gerken2022_per_chunk_500"] == 120
    g.main(["--bandwidth", "6", "--n-glyphs", "2"])
    assert json.loads(capsys.readouterr().out)["bandwidth"] == 6
