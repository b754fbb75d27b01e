"""The rotation sets of ``data.rotation`` (:mod:`eqaug.data.rotations`): each draws from its stated set,
with the stated distribution of the polar tilt, seeded and deterministic, and the same items under every set."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from eqaug.data import DataSpec, SphericalGenerator
from eqaug.data.rotations import (
    canonical_rotation,
    haar_rotations,
    parse_rotation,
    polar_tilt,
    restricted_rotations,
)

N = 4000


@pytest.fixture(scope="module")
def gaussians():
    return np.random.default_rng(7).standard_normal((N, 4))


def _is_rotation(R):
    eye = np.einsum("nij,nkj->nik", R, R)
    return np.abs(eye - np.eye(3)).max() < 1e-12 and np.abs(np.linalg.det(R) - 1).max() < 1e-12


def test_z_fixes_the_poles_and_spins_uniformly(gaussians):
    R = restricted_rotations(gaussians, "z")
    assert _is_rotation(R)
    np.testing.assert_allclose(R[:, :, 2], np.tile([0.0, 0.0, 1.0], (N, 1)), atol=1e-12)
    spin = np.arctan2(R[:, 1, 0], R[:, 0, 0])  # the angle about e_z
    assert stats.kstest((spin + np.pi) / (2 * np.pi), "uniform").pvalue > 1e-3


@pytest.mark.parametrize("theta", [15.0, 30.0, 90.0])
def test_tilt_stays_in_the_cap_with_cos_uniform(gaussians, theta):
    R = restricted_rotations(gaussians, f"tilt:{theta:g}")
    assert _is_rotation(R)
    beta = polar_tilt(R)
    assert beta.max() <= math.radians(theta) + 1e-9
    assert beta.max() > 0.95 * math.radians(theta)  # the cap is filled, not a smaller one
    c = math.cos(math.radians(theta))
    assert stats.kstest((np.cos(beta) - c) / (1 - c), "uniform").pvalue > 1e-3
    # the azimuth of the rotated pole is uniform
    azimuth = np.arctan2(R[:, 1, 2], R[:, 0, 2])
    assert stats.kstest((azimuth + np.pi) / (2 * np.pi), "uniform").pvalue > 1e-3


def test_tilt_180_is_haar_sample_by_sample(gaussians):
    np.testing.assert_allclose(restricted_rotations(gaussians, "tilt:180"), haar_rotations(gaussians), atol=1e-12)
    np.testing.assert_array_equal(restricted_rotations(gaussians, "so3"), haar_rotations(gaussians))
    np.testing.assert_array_equal(restricted_rotations(gaussians, "none"), np.broadcast_to(np.eye(3), (N, 3, 3)))


@pytest.mark.parametrize("theta", [0.0, 15.0, 45.0, 90.0, 180.0])
def test_polar_is_exactly_the_angle(gaussians, theta):
    R = restricted_rotations(gaussians, f"polar:{theta:g}")
    assert _is_rotation(R)
    np.testing.assert_allclose(np.degrees(polar_tilt(R)), theta, atol=1e-6)


@pytest.mark.parametrize("bad", ["tilt", "tilt:", "tilt:abc", "tilt:200", "polar:-1", "haar", "Z", 3])
def test_bad_values_name_the_key_and_the_choices(bad):
    with pytest.raises(ValueError, match=r"data\.rotation=.*not allowed.*'none', 'z'"):
        parse_rotation(bad)
    with pytest.raises(ValueError, match=r"data\.rotation"):
        DataSpec(rotation=bad)


def test_spec_canonical_spelling():
    assert canonical_rotation("tilt:30.0") == "tilt:30" and canonical_rotation("polar:22.5") == "polar:22.5"
    # none / so3 are stored as the legacy flag: the same dataset has one spelling
    assert DataSpec(rotation="so3", rotate=False) == DataSpec(rotate=True)
    assert DataSpec(rotation="none") == DataSpec(rotate=False)
    spec = DataSpec(rotation="tilt:30.0", rotate=False)
    assert spec.rotation == "tilt:30" and spec.rotate and spec.effective_rotation == "tilt:30"


@pytest.mark.parametrize("rotation", ["z", "tilt:30", "polar:60"])
def test_generator_draws_from_the_set_same_items_deterministic(rotation, synthetic_pools):
    def gen(**kw):
        return SphericalGenerator(DataSpec(bandwidth=8, n_items=2, **kw), "train", synthetic_pools)

    idx = np.arange(64)
    restricted, haar = gen(rotation=rotation).draw(idx), gen().draw(idx)
    np.testing.assert_array_equal(restricted.pool_indices, haar.pool_indices)  # the same items at every setting
    np.testing.assert_array_equal(restricted.tops, haar.tops)
    beta = np.degrees(polar_tilt(restricted.rotations))
    kind, theta = parse_rotation(rotation)
    limit = 0.0 if kind == "z" else theta
    assert beta.max() <= limit + 1e-6
    if kind == "polar":
        np.testing.assert_allclose(beta, theta, atol=1e-6)
    a, b = gen(rotation=rotation).get_batch(idx[:8]), gen(rotation=rotation).get_batch(idx[:8])
    assert a[0].numpy().tobytes() == b[0].numpy().tobytes()  # same seed, same bytes
    assert not np.array_equal(a[0].numpy(), gen().get_batch(idx[:8])[0].numpy())


def test_per_chunk_mode_applies_the_set(synthetic_pools):
    spec = DataSpec(bandwidth=8, rotation="tilt:20", rotation_mode="per_chunk", chunk_size=4)
    R = SphericalGenerator(spec, "train", synthetic_pools).draw(np.arange(12)).rotations
    assert np.degrees(polar_tilt(R)).max() <= 20 + 1e-6
    np.testing.assert_array_equal(R[0], R[3])
    assert not np.allclose(R[0], R[4])
