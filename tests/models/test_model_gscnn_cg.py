"""Clebsch–Gordan coefficients of the GSCNN: exact values, orthogonality, and the coupling of Wigner matrices."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from eqaug.models.gscnn.clebsch_gordan import cg_exact, cg_sparse, cg_terms_count, clebsch_gordan
from s2cnn import wigner_D

sympy_cg = pytest.importorskip("sympy.physics.quantum.cg")


def test_small_degrees_match_sympy():
    from sympy import S

    err = 0.0
    for l1, l2 in itertools.product(range(4), repeat=2):
        for l in range(abs(l1 - l2), l1 + l2 + 1):
            C = clebsch_gordan(l1, l2, l)
            for m1, m2 in itertools.product(range(-l1, l1 + 1), range(-l2, l2 + 1)):
                if abs(m1 + m2) > l:
                    continue
                ref = float(sympy_cg.CG(S(l1), S(m1), S(l2), S(m2), S(l), S(m1 + m2)).doit())
                err = max(
                    err, abs(C[m1 + l1, m2 + l2, m1 + m2 + l] - ref), abs(cg_exact(l1, m1, l2, m2, l, m1 + m2) - ref)
                )
    assert err < 1e-14


def test_large_degrees_match_exact_racah_sum():
    rng = np.random.default_rng(0)
    err = 0.0
    for _ in range(60):
        l1, l2 = (int(v) for v in rng.integers(0, 36, 2))
        l = int(rng.integers(abs(l1 - l2), l1 + l2 + 1))
        C = clebsch_gordan(l1, l2, l)
        for _ in range(4):
            m1, m = int(rng.integers(-l1, l1 + 1)), int(rng.integers(-l, l + 1))
            if abs(m - m1) <= l2:
                err = max(err, abs(C[m1 + l1, m - m1 + l2, m + l] - cg_exact(l1, m1, l2, m - m1, l, m)))
    assert err < 1e-13


@pytest.mark.parametrize("l1, l2", [(3, 5), (12, 9), (18, 21)])
def test_orthogonality(l1, l2):
    """The CG matrix of a pair, columns (l, m) for all l, is orthogonal."""
    M = np.concatenate(
        [clebsch_gordan(l1, l2, l).reshape(-1, 2 * l + 1) for l in range(abs(l1 - l2), l1 + l2 + 1)], axis=1
    )
    eye = np.eye(M.shape[0])
    assert np.abs(M.T @ M - eye).max() < 1e-12 and np.abs(M @ M.T - eye).max() < 1e-12


@pytest.mark.parametrize("l1, l2", [(1, 2), (4, 3), (7, 7)])
def test_coupling_of_wigner_matrices(l1, l2):
    """``C^T (D^{l1} ⊗ D^{l2}) C = ⊕_l D^l`` with the core's Wigner matrices (complex convention)."""
    a, b, c = 0.7, 1.9, -2.4
    D1, D2 = wigner_D(l1, a, b, c).numpy(), wigner_D(l2, a, b, c).numpy()
    ls = range(abs(l1 - l2), l1 + l2 + 1)
    M = np.concatenate([clebsch_gordan(l1, l2, l).reshape(-1, 2 * l + 1) for l in ls], axis=1)
    block = M.T @ np.kron(D1, D2) @ M
    ref = np.zeros_like(block)
    start = 0
    for l in ls:
        n = 2 * l + 1
        ref[start : start + n, start : start + n] = wigner_D(l, a, b, c).numpy()
        start += n
    assert np.abs(block - ref).max() < 1e-12


def test_sparse_pattern_and_cost():
    m1, m2, m, val = cg_sparse([(2, 3, 4)])[(2, 3, 4)]
    assert np.all(m1 + m2 == m) and len(val) == cg_terms_count(2, 3, 4)
    swapped = cg_sparse([(3, 2, 4)])[(3, 2, 4)]  # C(l2 m2 l1 m1|lm) = (-1)^{l1+l2-l} C(l1 m1 l2 m2|lm)
    C = clebsch_gordan(2, 3, 4)
    np.testing.assert_allclose(swapped[3], -C[swapped[1] + 2, swapped[0] + 3, swapped[2] + 4], atol=1e-15)
    with pytest.raises(ValueError, match="triangle"):
        cg_sparse([(1, 1, 3)])


def test_dense_table_is_read_only_float64():
    C = clebsch_gordan(2, 2, 2)
    assert C.dtype == np.float64 and not C.flags.writeable and C.shape == (5, 5, 5)
