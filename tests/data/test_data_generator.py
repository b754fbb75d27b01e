import math

import numpy as np
import pytest
import torch
from scipy import stats
from spherical_data_helpers import centroid_direction, reference_canvas_value

from eqaug.data import DataSpec, SphericalGenerator
from eqaug.data.projection import canvas_function
from eqaug.data.rotations import haar_rotations, projection_rotation, quaternion_to_matrix
from eqaug.data.sources import PlanarPools
from s2cnn.grids import euler_to_matrix, s2_points


def _render_with(gen: SphericalGenerator, index: int, rotation: np.ndarray):
    draw = gen.draw([index])
    draw.rotations = np.asarray(rotation, dtype=np.float64)[None]
    images, masks = gen.render(draw)
    return images[0, 0].numpy(), masks[0].numpy()


@pytest.mark.parametrize("b", [8, 16, 30, 50])
def test_shapes_dtypes_ranges(b, synthetic_pools):
    seg = SphericalGenerator(DataSpec(bandwidth=b, n_items=4), "train", synthetic_pools)
    images, masks = seg.get_batch([0, 7, 3])
    assert images.shape == (3, 1, 2 * b, 2 * b) and images.dtype == torch.float32
    assert masks.shape == (3, 2 * b, 2 * b) and masks.dtype == torch.int64
    assert 0.0 <= images.min() and images.max() <= 1.0 and images.max() > 0.5
    cls = SphericalGenerator(DataSpec(bandwidth=b, task="cls"), "val", synthetic_pools)
    images, labels = cls.get_batch(np.arange(4))
    assert images.shape == (4, 1, 2 * b, 2 * b) and labels.shape == (4,) and labels.dtype == torch.int64
    assert 0 <= labels.min() and labels.max() <= 9


def test_mask_classes_in_range_background_dominated_and_match_the_items(mnist_pools):
    gen = SphericalGenerator(DataSpec(bandwidth=16, n_items=4), "train", mnist_pools)
    draw = gen.draw(np.arange(32))
    _, masks = gen.render(draw)
    masks = masks.numpy()
    assert masks.min() >= 0 and masks.max() <= 10
    assert (masks == 0).mean() > 0.8
    for mask, classes in zip(masks, draw.classes):
        assert set(np.unique(mask)) <= {0, *(classes + 1).tolist()}
    assert len(np.unique(masks)) == 11  # 32 samples × 4 items: every class appears


def test_mask_and_image_are_aligned(mnist_pools):
    gen = SphericalGenerator(DataSpec(bandwidth=30, n_items=4), "train", mnist_pools)
    images, masks = gen.get_batch(np.arange(24))
    images, foreground = images[:, 0].numpy(), masks.numpy() > 0
    assert (images[foreground] > 0.25).mean() >= 0.98  # mask pixels lie on the item's strokes
    assert foreground[images > 0.8].mean() >= 0.95  # bright pixels are foreground


def test_classification_target_is_the_item_class(synthetic_pools):
    gen = SphericalGenerator(DataSpec(bandwidth=8, task="cls"), "train", synthetic_pools)
    draw = gen.draw(np.arange(10))
    _, labels = gen.render(draw)
    np.testing.assert_array_equal(labels.numpy(), synthetic_pools.train_labels[draw.pool_indices[:, 0]])


def test_splits_draw_from_their_pools(synthetic_pools):
    spec = DataSpec(bandwidth=8)
    for split, pool in [("train", "train"), ("val", "test"), ("test", "test")]:
        gen = SphericalGenerator(spec, split, synthetic_pools)
        draw = gen.draw(np.arange(200))
        assert draw.pool_indices.max() < len(synthetic_pools.pool(pool)[1])
        # drawn with replacement, yet nearly every item of the small pool is used
        assert len(np.unique(draw.pool_indices)) > 0.8 * len(synthetic_pools.pool(pool)[1])
    val, test = (SphericalGenerator(spec, s, synthetic_pools).get_batch([0])[0] for s in ("val", "test"))
    assert not torch.equal(val, test)  # val and test are different samples of the same pool


def test_canvas_function_matches_scalar_reference(synthetic_pools):
    gen = SphericalGenerator(DataSpec(bandwidth=8, n_items=4), "train", synthetic_pools)
    canvas_images, canvas_masks = gen.canvases(gen.draw([0, 1]))
    rng = np.random.default_rng(0)
    points = rng.standard_normal((2, 400, 3))
    points /= np.linalg.norm(points, axis=-1, keepdims=True)
    u, v = rng.uniform(-3.6, 3.6, size=(2, 2, 300))  # plane points over the 64-pixel canvas (± 3.43) and beyond
    r2 = u**2 + v**2
    points[:, :300] = np.stack([4 * u, 4 * v, r2 - 4], axis=-1) / (r2 + 4)[..., None]  # inverse stereographic
    images = torch.from_numpy(canvas_images).double() / 255
    values, labels = canvas_function(images, torch.from_numpy(canvas_masks).double(), torch.from_numpy(points))
    for n in range(2):
        expected = [reference_canvas_value(images[n].numpy(), canvas_masks[n], p) for p in points[n]]
        np.testing.assert_allclose(values[n].numpy(), [e[0] for e in expected], atol=1e-9)
        np.testing.assert_array_equal(labels[n].numpy(), [e[1] for e in expected])
    assert (values > 0).double().mean() > 0.05 and (labels > 0).double().mean() > 0.05


@pytest.mark.parametrize("projection_point", ["south_pole", "equator"])
def test_rotated_sample_is_the_unrotated_function_at_inverse_rotated_points(projection_point, mnist_pools):
    """Sample of the rotated generator at grid point x == unrotated canvas function at R⁻¹x (pointwise)."""
    b = 12
    rotated = SphericalGenerator(
        DataSpec(bandwidth=b, n_items=4, projection_point=projection_point), "train", mnist_pools
    )
    still = SphericalGenerator(
        DataSpec(bandwidth=b, n_items=4, projection_point=projection_point, rotate=False), "train", mnist_pools
    )
    indices = [3, 11]
    draw_rot, draw_still = rotated.draw(indices), still.draw(indices)
    np.testing.assert_array_equal(draw_rot.pool_indices, draw_still.pool_indices)  # same items, same canvas
    np.testing.assert_array_equal(draw_rot.tops, draw_still.tops)
    images, masks = rotated.render(draw_rot)
    canvas_images, canvas_masks = still.canvases(draw_still)
    grid = s2_points(b).numpy().reshape(-1, 3)
    q = projection_rotation(projection_point)
    for n in range(len(indices)):
        rotation = draw_rot.rotations[n]
        # the unrotated sample is f(y) = canvas(Qᵀ y): evaluate it at y = R⁻¹ x with the scalar reference
        canvas_frame_points = (q.T @ rotation.T @ grid.T).T
        expected = [reference_canvas_value(canvas_images[n] / 255.0, canvas_masks[n], p) for p in canvas_frame_points]
        np.testing.assert_allclose(images[n, 0].numpy().reshape(-1), [e[0] for e in expected], atol=2e-5)
        assert (masks[n].numpy().reshape(-1) == [e[1] for e in expected]).mean() >= 0.999
        assert images[n].max() > 0.5


def test_grid_symmetries_permute_samples_exactly(synthetic_pools):
    """Rotations that map the SOFT grid to itself permute the sample: f∘R⁻¹ on the grid."""
    b = 8
    gen = SphericalGenerator(DataSpec(bandwidth=b, n_items=4, rotate=False), "train", synthetic_pools)
    image, mask = _render_with(gen, 5, np.eye(3))
    shift = 3
    image_z, mask_z = _render_with(gen, 5, euler_to_matrix(2 * math.pi * shift / (2 * b), 0, 0).numpy())
    np.testing.assert_allclose(image_z, np.roll(image, shift, axis=1), atol=1e-5)
    assert (mask_z == np.roll(mask, shift, axis=1)).mean() > 0.995
    # R_y(π): (β, α) ↦ (π − β, π − α), i.e. [j, k] ↦ [2b − 1 − j, (b − k) mod 2b]
    image_y, mask_y = _render_with(gen, 5, euler_to_matrix(0, math.pi, 0).numpy())
    j, k = np.meshgrid(np.arange(2 * b), np.arange(2 * b), indexing="ij")
    np.testing.assert_allclose(image_y, image[2 * b - 1 - j, (b - k) % (2 * b)], atol=1e-5)
    assert (mask_y == mask[2 * b - 1 - j, (b - k) % (2 * b)]).mean() > 0.995
    assert image.max() > 0.5


def test_unrotated_digits_are_centred_at_the_south_pole(mnist_pools):
    gen = SphericalGenerator(DataSpec(bandwidth=16, rotate=False), "test", mnist_pools)
    centre = centroid_direction(gen.get_batch(np.arange(16))[0].numpy(), 16)
    assert np.all(np.arccos(centre[:, 2]) > math.pi - 0.2)  # β of the centroid within ~11° of the south pole


def test_equator_projection_is_at_the_grid_centre(mnist_pools):
    gen = SphericalGenerator(DataSpec(bandwidth=16, rotate=False, projection_point="equator"), "test", mnist_pools)
    centre = centroid_direction(gen.get_batch(np.arange(16))[0].numpy(), 16)
    assert np.all(centre @ np.array([-1.0, 0.0, 0.0]) > math.cos(0.2))  # β = π/2, α = π


def test_equator_projection_is_upright_and_not_mirrored():
    item = np.zeros((1, 28, 28), np.uint8)
    item[0, 2:10, 2:10] = 255  # top-left corner of the item
    pools = PlanarPools("mnist", "fixture", "<memory>", item, np.array([3]), item, np.array([3]))
    gen = SphericalGenerator(DataSpec(bandwidth=16, rotate=False, projection_point="equator"), "train", pools)
    c = centroid_direction(gen.get_batch([0])[0].numpy(), 16)[0]
    beta, alpha = math.acos(c[2]), math.atan2(c[1], c[0]) % (2 * math.pi)
    assert beta < math.pi / 2 - 0.3 and alpha < math.pi - 0.3  # up (small β) and left (small α) in the [β, α] image


def test_haar_rotations_are_uniform(synthetic_pools):
    gen = SphericalGenerator(DataSpec(bandwidth=4, seed=3), "train", synthetic_pools)
    rotations = gen.draw(np.arange(2000)).rotations
    np.testing.assert_allclose(
        rotations @ rotations.transpose(0, 2, 1), np.broadcast_to(np.eye(3), rotations.shape), atol=1e-12
    )
    np.testing.assert_allclose(np.linalg.det(rotations), 1.0, atol=1e-12)
    north_z = rotations[:, 2, 2]  # z of the rotated north pole: uniform on [−1, 1] under Haar measure
    assert stats.kstest(north_z, stats.uniform(loc=-1, scale=2).cdf).pvalue > 0.01
    angle = np.arccos(np.clip((np.trace(rotations, axis1=1, axis2=2) - 1) / 2, -1, 1))  # density (1 − cos θ)/π
    assert stats.kstest(angle, lambda t: (t - np.sin(t)) / np.pi).pvalue > 0.01


def test_quaternion_conversion_is_a_homomorphism():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((2, 4))
    w1, v1, w2, v2 = a[0], a[1:], b[0], b[1:]
    product = np.concatenate([[w1 * w2 - v1 @ v2], w1 * v2 + w2 * v1 + np.cross(v1, v2)])
    np.testing.assert_allclose(
        quaternion_to_matrix(product), quaternion_to_matrix(a) @ quaternion_to_matrix(b), atol=1e-12
    )
    np.testing.assert_allclose(haar_rotations(np.array([[1.0, 0, 0, 0]]))[0], np.eye(3))


def test_per_chunk_rotation_mode_shares_rotations_within_chunks(synthetic_pools):
    gen = SphericalGenerator(DataSpec(bandwidth=4, rotation_mode="per_chunk", chunk_size=5), "train", synthetic_pools)
    rotations = gen.draw(np.arange(12)).rotations
    assert all(np.array_equal(rotations[0], rotations[i]) for i in range(5))
    assert not np.allclose(rotations[4], rotations[5]) and np.array_equal(rotations[5], rotations[9])
    np.testing.assert_array_equal(gen.draw([7]).rotations[0], rotations[7])  # independent of batching
    still = SphericalGenerator(DataSpec(bandwidth=4, rotate=False), "train", synthetic_pools)
    np.testing.assert_array_equal(still.draw(np.arange(12)).rotations, np.broadcast_to(np.eye(3), (12, 3, 3)))


def test_one_item_fills_the_default_canvas_and_multi_item_boxes_do_not_overlap(synthetic_pools):
    one = SphericalGenerator(DataSpec(bandwidth=4), "train", synthetic_pools)
    draw = one.draw(np.arange(20))
    assert one.canvas_size == 28 and np.all(draw.tops == 0) and np.all(draw.lefts == 0)
    four = SphericalGenerator(DataSpec(bandwidth=4, n_items=4), "train", synthetic_pools)
    draw = four.draw(np.arange(300))
    assert four.canvas_size == 64
    assert draw.tops.min() >= 0 and draw.tops.max() <= 64 - 28 and draw.lefts.max() <= 64 - 28
    for t, l in zip(draw.tops, draw.lefts):
        for a in range(4):
            for c in range(a):
                assert abs(int(t[a]) - int(t[c])) >= 28 or abs(int(l[a]) - int(l[c])) >= 28
    assert len(np.unique(draw.tops)) > 4  # positions are jittered
    big = SphericalGenerator(DataSpec(bandwidth=4, n_items=1, canvas_size=60), "train", synthetic_pools)
    assert big.draw(np.arange(50)).tops.max() > 20  # a single item moves around a larger canvas
