"""Degree-mixing sets: definitions, MST minimality (brute force), reduced MST size."""

from __future__ import annotations

import itertools
import math

import pytest

from eqaug.models.gscnn.mixing import degree_mixing_set, edge_cost, fragment_pairs, rmst_nodes


def _connected(nodes: list[int], edges: list[tuple[int, int]]) -> bool:
    parent = {n: n for n in nodes}

    def find(a):
        while parent[a] != a:
            a = parent[a]
        return a

    for a, b in edges:
        parent[find(a)] = find(b)
    return len({find(n) for n in nodes}) == 1


def _components(nodes: list[int], edges: list[tuple[int, int]]) -> set[frozenset]:
    comp = {n: {n} for n in nodes}
    for a, b in edges:
        if comp[a] is not comp[b]:
            merged = comp[a] | comp[b]
            for n in merged:
                comp[n] = merged
    return {frozenset(c) for c in comp.values()}


def _connected(nodes: list[int], edges: list[tuple[int, int]]) -> bool:
    return len(_components(nodes, edges)) == 1


def _brute_force_forest_cost(nodes: list[int], l: int) -> int:
    """Minimum cost over all edge subsets that connect G^l[nodes]'s components (spanning forests)."""
    edges = [(a, b) for a, b in itertools.combinations(nodes, 2) if abs(a - b) <= l <= a + b]
    target = _components(nodes, edges)
    k = len(nodes) - len(target)
    best = math.inf
    for sub in itertools.combinations(edges, k):
        if _components(nodes, list(sub)) == target:
            best = min(best, sum(edge_cost(a, b, l) for a, b in sub))
    return best


def test_full_set_is_the_triangle_set():
    s = degree_mixing_set("full", 6)
    for l in range(6):
        want = {(a, b) for a in range(6) for b in range(a, 6) if b - a <= l <= a + b}
        assert set(s.pairs(l)) == want


@pytest.mark.parametrize("L", [3, 4, 5])
def test_mst_spans_every_degree_at_minimum_cost(L):
    s = degree_mixing_set("mst", L)
    for l in range(1, L):
        tree = [(a, b) for a, b in s.pairs(l) if a != b]
        assert len(tree) == L - 1 and _connected(list(range(L)), tree)
        assert sum(edge_cost(a, b, l) for a, b in tree) == _brute_force_forest_cost(list(range(L)), l)
    assert all(a == b for a, b in s.pairs(0))  # G^0 has only loops
    assert set(s.pairs(0)) == {(n, n) for n in range(L)}


@pytest.mark.parametrize("L", [5, 9])
def test_rmst_is_the_minimum_spanning_forest_of_the_subsampled_graph(L):
    s = degree_mixing_set("rmst", L)
    for l in range(1, L):
        nodes = rmst_nodes(l, L)
        forest = [(a, b) for a, b in s.pairs(l) if a != b]
        assert {n for e in forest for n in e} <= set(nodes)
        induced = [(a, b) for a, b in itertools.combinations(nodes, 2) if abs(a - b) <= l <= a + b]
        assert _components(nodes, forest) == _components(nodes, induced)
        assert len(forest) == len(nodes) - len(_components(nodes, induced))
        if len(induced) <= 14:
            assert sum(edge_cost(a, b, l) for a, b in forest) == _brute_force_forest_cost(nodes, l)
        near = [n for n in nodes if n <= 3 * l]  # connected within [0, 3l]
        assert _connected(near, [(a, b) for a, b in forest if a in near and b in near])


@pytest.mark.slow
def test_rmst_has_logarithmically_many_pairs_per_degree():
    for L in (16, 32, 64):
        s = degree_mixing_set("rmst", L)
        per_degree = max(len(s.pairs(l)) for l in range(1, L))
        assert per_degree <= 7 * math.log2(L), (L, per_degree)
    assert degree_mixing_set("rmst", 64).n_terms < degree_mixing_set("mst", 64).n_terms


def test_set_sizes_and_counts_are_ordered():
    full, mst, rmst = (degree_mixing_set(k, 12) for k in ("full", "mst", "rmst"))
    assert full.n_triples > mst.n_triples > rmst.n_triples
    assert full.n_terms > mst.n_terms > rmst.n_terms
    assert set(mst.triples) <= set(full.triples) and set(rmst.triples) <= set(full.triples)
    assert rmst.n_products(2) > rmst.n_products(1)


def test_fragment_pairs_skip_duplicates_and_vanishing_products():
    assert fragment_pairs(1, 2, 2, 2, 2) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert fragment_pairs(2, 2, 2, 2, 2) == [(0, 0), (0, 1), (1, 1)]
    assert fragment_pairs(2, 2, 3, 2, 2) == [(0, 1)]  # odd l: t1 = t2 vanishes identically


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="mixing='tree'"):
        degree_mixing_set("tree", 4)
    with pytest.raises(ValueError, match="L_in=0"):
        degree_mixing_set("full", 0)
