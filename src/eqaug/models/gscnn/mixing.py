r"""Degree-mixing sets of the tensor-product activation (Cobb et al. 2021, "optimized degree mixing sets").

A set lists, for every output degree ``l < L_out``, the input degree pairs ``(l_1, l_2)`` (``l_1 ≤ l_2 < L_in``)
whose Clebsch–Gordan product is projected onto degree ``l``; it is stored as sorted triples ``(l_1, l_2, l)``.
Only ``l_1 ≤ l_2`` is listed because the ``(l_2, l_1)`` product is the same up to the sign
``(-1)^{l_1+l_2-l}``.  Outputs are truncated to ``l ≤ L_out − 1``.

Sets
----
``full``
    :math:`\mathbb P^l_L = \{(l_1, l_2) : |l_1 - l_2| ≤ l ≤ l_1 + l_2\}` — ``O(L³)`` triples, ``O(L⁵)`` terms.
``mst``
    For each ``l`` the graph ``G^l`` on the nodes ``0 … L_in−1`` with the edges ``l_1 ≠ l_2`` of
    :math:`\mathbb P^l_L`, each weighted by the cost of its product — the number of Clebsch–Gordan terms
    ``#{(m_1, m_2) : |m_1| ≤ l_1, |m_2| ≤ l_2, |m_1 + m_2| ≤ l}`` (:func:`edge_cost`) — and its minimum spanning
    tree (``scipy.sparse.csgraph.minimum_spanning_tree``; a spanning forest if ``G^l`` is disconnected).  Every
    pair of degrees is then related through a path of products at minimum total cost.  ``O(L²)`` triples.
``rmst`` (reduced MST)
    For each ``l`` the same construction on the induced subgraph of logarithmically subsampled degrees
    ``N_l = \{g\} ∪ \{l ± g\}`` with ``g ∈ \{0\} ∪ \{⌊base^k⌋\}`` (``base = 2`` by default: 0, 1, 2, 4, 8, …),
    i.e. the low degrees and the degrees at exponentially growing distances from ``l``: its minimum spanning
    forest.  Within ``[0, 3l]`` the subgraph is connected (``l ± g`` is joined to ``g`` and ``g ≤ 2l`` to ``l``);
    nodes far above ``3l`` (``g > 2l``) may form separate components, each spanned at minimum cost.  The forest has
    ``< |N_l| = O(\log L)`` edges: ``O(L \log L)`` triples and ``O(L³ \log L)`` terms.

Self-loops ``(l_1, l_1)`` cannot be tree edges, but for ``l = 0`` they are the *only* products (``G^0`` has no
other edge), i.e. the rotation invariants ``Σ_m (-1)^m u_m v_{-m}`` the classifiers read out.  With
``self_loops=True`` (default) the MST sets also contain the loops ``(n, n)`` of the tree's nodes
(``2n ≥ l``): all of them for ``mst`` (``O(L)`` per degree), those at ``N_l`` for ``rmst`` (``O(\log L)``),
and for ``l = 0`` every loop ``(n, n)``, ``n < L_in`` in both (the power-spectrum-like invariants of all
degrees; ``O(L²)`` terms in total).  This keeps the stated complexities.  These choices (edge weights, the subsampling rule, loops) are ours —
the paper's slides leave them open.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import minimum_spanning_tree

from eqaug.models.gscnn.clebsch_gordan import cg_terms_count

__all__ = ["MIXING_KINDS", "MixingSet", "degree_mixing_set", "edge_cost", "log_degrees", "rmst_nodes"]

MIXING_KINDS = ("full", "mst", "rmst")


@lru_cache(maxsize=1 << 16)
def edge_cost(l1: int, l2: int, l: int) -> int:
    """Cost of the product ``(l1, l2) → l``: its number of Clebsch–Gordan terms (multiply–adds)."""
    return cg_terms_count(l1, l2, l)


def log_degrees(limit: int, base: float = 2.0) -> list[int]:
    """``{0} ∪ {⌊base^k⌋ : k ≥ 0}`` below ``limit``."""
    if base <= 1:
        raise ValueError(f"rmst_base={base!r} is not allowed; it must be > 1")
    out, k = {0}, 0
    while True:
        g = math.floor(base**k)
        if g >= limit:
            break
        out.add(g)
        k += 1
    return sorted(out)


def rmst_nodes(l: int, L_in: int, base: float = 2.0) -> list[int]:
    """The subsampled nodes ``N_l = {g} ∪ {l ± g}`` (inside ``0 … L_in−1``) of the reduced MST."""
    gs = log_degrees(max(L_in, l + 1), base)
    nodes = set(g for g in gs if g < L_in)
    for g in gs:
        for n in (l - g, l + g):
            if 0 <= n < L_in:
                nodes.add(n)
    return sorted(nodes)


def _spanning_edges(nodes: list[int], l: int) -> list[tuple[int, int]]:
    """Minimum spanning forest of ``G^l`` restricted to ``nodes`` (edges ``(a < b)``)."""
    n = len(nodes)
    rows, cols, w = [], [], []
    for i in range(n):
        for j in range(i + 1, n):
            a, b = nodes[i], nodes[j]
            if abs(a - b) <= l <= a + b:
                rows.append(i)
                cols.append(j)
                w.append(float(edge_cost(a, b, l)))
    if not rows:
        return []
    g = csr_matrix((w, (rows, cols)), shape=(n, n))
    tree = minimum_spanning_tree(g).tocoo()
    return sorted((min(nodes[i], nodes[j]), max(nodes[i], nodes[j])) for i, j in zip(tree.row, tree.col))


@dataclass(frozen=True)
class MixingSet:
    """A degree-mixing set: triples ``(l1, l2, l)`` with ``l1 ≤ l2 < L_in``, ``l < L_out``.

    Attributes
    ----------
    kind : ``"full"``, ``"mst"`` or ``"rmst"``.
    L_in, L_out : input / output bandlimits (degrees ``< L``).
    self_loops : whether the MST sets include the loops ``(n, n)`` (see the module docstring).
    rmst_base : base of the logarithmic subsampling of the reduced MST.
    triples : the sorted triples.
    """

    kind: str
    L_in: int
    L_out: int
    self_loops: bool = True
    rmst_base: float = 2.0
    triples: tuple[tuple[int, int, int], ...] = field(default=(), repr=False)

    def pairs(self, l: int) -> list[tuple[int, int]]:
        """The pairs ``(l1, l2)`` mixed into degree ``l``."""
        return [(a, b) for a, b, c in self.triples if c == l]

    @property
    def n_triples(self) -> int:
        """Number of products ``(l1, l2) → l`` (per pair of fragments)."""
        return len(self.triples)

    @property
    def n_terms(self) -> int:
        """Number of Clebsch–Gordan multiply–adds of one product of every triple (complex basis)."""
        return sum(edge_cost(a, b, c) for a, b, c in self.triples)

    def n_products(self, tau: int = 1) -> int:
        """Number of fragment products per channel for a constant input type ``τ`` (see ``fragment_pairs``)."""
        return sum(len(fragment_pairs(a, b, c, tau, tau)) for a, b, c in self.triples)


def fragment_pairs(l1: int, l2: int, l: int, tau1: int, tau2: int) -> list[tuple[int, int]]:
    """Fragment pairs ``(t1, t2)`` combined by the triple: all for ``l1 ≠ l2``; for ``l1 = l2`` only ``t1 ≤ t2``.

    For ``l1 = l2`` swapping the fragments multiplies the product by ``(-1)^{2l_1-l} = (-1)^l``, so ``t1 > t2``
    duplicates ``t1 < t2``, and ``t1 = t2`` vanishes identically for odd ``l``.
    """
    if l1 != l2:
        return [(t1, t2) for t1 in range(tau1) for t2 in range(tau2)]
    return [(t1, t2) for t1 in range(tau1) for t2 in range(t1, tau2) if t1 < t2 or l % 2 == 0]


@lru_cache(maxsize=256)
def degree_mixing_set(
    kind: str, L_in: int, L_out: int | None = None, self_loops: bool = True, rmst_base: float = 2.0
) -> MixingSet:
    """Build (and cache) a degree-mixing set; see the module docstring for the definitions."""
    L_out = L_in if L_out is None else L_out
    if kind not in MIXING_KINDS:
        raise ValueError(f"mixing={kind!r} is not allowed; choose one of {', '.join(map(repr, MIXING_KINDS))}")
    for name, v in (("L_in", L_in), ("L_out", L_out)):
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name}={v!r} is not allowed; it must be an integer >= 1")
    triples: set[tuple[int, int, int]] = set()
    for l in range(L_out):
        if kind == "full":
            for a in range(L_in):
                for b in range(a, L_in):
                    if b - a <= l <= a + b:
                        triples.add((a, b, l))
            continue
        nodes = list(range(L_in)) if kind == "mst" else rmst_nodes(l, L_in, rmst_base)
        for a, b in _spanning_edges(nodes, l):
            triples.add((a, b, l))
        if self_loops:
            for n in range(L_in) if l == 0 else nodes:
                if 2 * n >= l:
                    triples.add((n, n, l))
    return MixingSet(kind, int(L_in), int(L_out), self_loops, float(rmst_base), tuple(sorted(triples, key=_order)))


def _order(t: tuple[int, int, int]) -> tuple[int, int, int]:
    return (t[2], t[0], t[1])
