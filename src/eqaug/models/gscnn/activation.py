r"""Channel-wise tensor-product activation (Cobb et al. 2021, "channel-wise structure").

Within each channel, the fragments ``u`` (degree ``l_1``) and ``v`` (degree ``l_2``) of the input are coupled to
degree ``l`` by Clebsch–Gordan coefficients (:mod:`~eqaug.models.gscnn.clebsch_gordan`):

.. math::

    (u ⊗ v)^l_m = i^{p}\, ν\, \sum_{m_1} C^{lm}_{l_1 m_1\, l_2 (m-m_1)}\, u_{m_1} v_{m-m_1},
    \qquad p = (l_1 + l_2 - l) \bmod 2, \quad ν = \sqrt{\tfrac{(2l_1+1)(2l_2+1)}{2l+1}},

for every triple ``(l_1 ≤ l_2, l)`` of a degree-mixing set (:mod:`~eqaug.models.gscnn.mixing`) and every fragment
pair of :func:`~eqaug.models.gscnn.mixing.fragment_pairs`.  ``(u ⊗ v)^l`` transforms by ``D^l`` (equivariance).
The phase ``i^p``: for real-type ``u, v`` the coupled vector satisfies ``w^♯ = (-1)^{l_1+l_2-l} w``, so ``i^p w`` is
of real type again (:mod:`~eqaug.models.gscnn.signals`) and the whole layer is a real bilinear map in the real
basis — computed with real arithmetic.  ``ν`` makes ``E‖(u⊗v)^l‖² = ‖u‖²‖v‖²`` for isotropic random fragments,
so unit-scale inputs give unit-scale products.  With ``include_input`` the input fragments of degree ``l`` are passed
through first (the linear part), so the output type is
``τ'_l = τ_l [l < L_in] + Σ_{(l_1,l_2) ∈ P^l} #pairs(l_1, l_2, l)``.

Implementation: the real-basis coefficients of all products form one sparse table of entries
``(i, j, k, c)`` — ``out[k] += c · x[i] · x[j]`` on the internal layout ``[D, batch·channels]`` — built at the first
forward per ``(set, input type, device, dtype)`` and cached (float64 construction).  The products are gathered and
scattered in chunks, straight into their rows of the output beside the copied pass-through rows, by a custom
autograd function that saves only its input (no ``[nnz, N]`` temporaries are kept for the backward pass).  The
chunks' index views are cached per chunk size too: slicing the table afresh in every call was a seventh of a
GSCNN twin's CPU training step (the values are bit-for-bit the same either way).

On CPU at one thread (the study's lanes) the products and their gradient instead run as one fused loop compiled
by ``torch.compile`` (TorchInductor's C++ backend: gather, multiply and scatter-add per entry, no temporaries;
about 2× less CPU per GSCNN training step).  Its loop is sequential, hence deterministic; the values equal the
chunked path's to float rounding (the additions into a row happen in another order).  With more threads the
chunked path runs (it parallelizes and is deterministic); without a working compiler it runs too, after one
warning.  ``EQAUG_FUSED_TP=0`` turns the fused loop off (:func:`fused_enabled`).
"""

from __future__ import annotations

import math
import os
import warnings
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils._python_dispatch import is_in_torch_dispatch_mode

from eqaug.models.gscnn.clebsch_gordan import cg_sparse
from eqaug.models.gscnn.counting import activation_out_type
from eqaug.models.gscnn.mixing import MixingSet, degree_mixing_set, fragment_pairs
from eqaug.models.gscnn.signals import GType, offsets
from s2cnn.real_basis import real_basis

__all__ = ["TensorProductActivation", "TPTable", "tp_table", "real_cg", "fused_enabled", "FUSED_ENV"]

# Elements of one [chunk, N] temporary.  On CPU the products are memory-bound: chunks whose temporaries stay in
# the L2 cache (2^16 float32 = 256 KiB) make a GSCNN twin's training step 1.4–1.6× faster than 8 MiB chunks
# (batch 32, one thread); smaller chunks lose to Python overhead.  On CUDA large chunks mean fewer launches.
_CHUNK_ELEMENTS = {"cpu": 1 << 16, "cuda": 1 << 21}


def _chunk_rows(x: torch.Tensor) -> int:
    """Table entries per chunk for ``x [D, N]``."""
    return max(1, _CHUNK_ELEMENTS.get(x.device.type, 1 << 21) // max(x.shape[1], 1))


def _q_column(l: int, m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Nonzeros of column ``m`` of the real basis ``U^l`` (:func:`s2cnn.real_basis.real_basis`): rows ``μ_a = |m|``,
    ``μ_b = -|m|`` and their (complex) values (``μ_b``'s value is 0 for ``m = 0``, where the rows coincide)."""
    k = np.abs(m)
    U = real_basis(l).numpy()
    va = U[k + l, m + l]
    vb = np.where(m == 0, 0.0, U[-k + l, m + l])
    return k, -k, va, vb


@lru_cache(maxsize=4096)
def real_cg(l1: int, l2: int, l: int) -> tuple[np.ndarray, ...]:
    r"""Real-basis coupling ``R[μ, μ1, μ2] = i^p ν Σ U^l_{μm} C^{lm}_{l_1m_1l_2m_2} \overline{U^{l_1}_{μ_1m_1}}\,\overline{U^{l_2}_{μ_2m_2}}``.

    Returns sparse ``(μ1, μ2, μ, value)`` (float64; entries below ``1e-13`` dropped).
    """
    m1, m2, m, c = cg_sparse([(l1, l2, l)])[(l1, l2, l)]
    p = (l1 + l2 - l) % 2
    scale = math.sqrt((2 * l1 + 1) * (2 * l2 + 1) / (2 * l + 1)) * (1j if p else 1.0)
    cols = [_q_column(l1, m1), _q_column(l2, m2), _q_column(l, m)]
    keys, vals = [], []
    for a in range(2):
        for b in range(2):
            for d in range(2):
                mu1 = cols[0][a]
                mu2 = cols[1][b]
                mu = cols[2][d]
                v = np.conj(cols[0][2 + a]) * np.conj(cols[1][2 + b]) * cols[2][2 + d] * c * scale
                keys.append(((mu1 + l1) * (2 * l2 + 1) + (mu2 + l2)) * (2 * l + 1) + (mu + l))
                vals.append(v)
    keys = np.concatenate(keys)
    vals = np.concatenate(vals)
    uniq, inv = np.unique(keys, return_inverse=True)
    re = np.bincount(inv, weights=vals.real, minlength=len(uniq))
    im = np.bincount(inv, weights=vals.imag, minlength=len(uniq))
    if np.abs(im).max(initial=0.0) > 1e-10:  # pragma: no cover - a convention error, not an input error
        raise RuntimeError(f"real-basis coupling ({l1}, {l2}, {l}) is not real (max imag {np.abs(im).max():.2e})")
    keep = np.abs(re) > 1e-13
    uniq, re = uniq[keep], re[keep]
    mu = uniq % (2 * l + 1) - l
    rest = uniq // (2 * l + 1)
    mu2 = rest % (2 * l2 + 1) - l2
    mu1 = rest // (2 * l2 + 1) - l1
    return mu1, mu2, mu, re


class TPTable:
    """Gather table of one activation: ``out[k] += c · x[i] · x[j]`` plus the pass-through rows.

    Attributes
    ----------
    in_type, out_type : input type and output type ``τ'``.
    i, j, k : int32 numpy arrays (rows of the internal layouts); ``c``: float64 coefficients.
    n_pass : rows of the input passed through (``0`` without ``include_input``).
    n_prod_rows : rows of the products (the output has ``n_pass + n_prod_rows``).
    k_out, pass_rows : the output rows of the entries' products and of the pass-through rows ``x[:n_pass]``.
    """

    def __init__(self, mixing: MixingSet, in_type: GType, include_input: bool) -> None:
        L_in, L_out = len(in_type), mixing.L_out
        if mixing.L_in != L_in:
            raise ValueError(f"mixing set is for L_in={mixing.L_in}, input type has L={L_in}")
        off_in = offsets(in_type)
        by_l: dict[int, list[tuple[int, int, int, int]]] = {l: [] for l in range(L_out)}  # (l1, l2, t1, t2)
        for l1, l2, l in mixing.triples:
            for t1, t2 in fragment_pairs(l1, l2, l, in_type[l1], in_type[l2]):
                by_l[l].append((l1, l2, t1, t2))
        n_pass = [in_type[l] if (include_input and l < L_in) else 0 for l in range(L_out)]
        out_type = tuple(n_pass[l] + len(by_l[l]) for l in range(L_out))
        off_out = offsets(out_type)
        prod_type = tuple(len(by_l[l]) for l in range(L_out))
        off_prod = offsets(prod_type)
        coeffs = {t: real_cg(*t) for t in dict.fromkeys(mixing.triples)}
        I, J, K, C = [], [], [], []
        for l in range(L_out):
            for p, (l1, l2, t1, t2) in enumerate(by_l[l]):
                mu1, mu2, mu, val = coeffs[(l1, l2, l)]
                I.append(off_in[l1] + t1 * (2 * l1 + 1) + mu1 + l1)
                J.append(off_in[l2] + t2 * (2 * l2 + 1) + mu2 + l2)
                K.append(off_prod[l] + p * (2 * l + 1) + mu + l)
                C.append(val)
        cat = (lambda xs, dt: np.concatenate(xs).astype(dt)) if I else (lambda xs, dt: np.zeros(0, dt))
        self.i, self.j, self.k, self.c = cat(I, np.int32), cat(J, np.int32), cat(K, np.int32), cat(C, np.float64)
        order = np.lexsort((self.i, self.k))  # scatter rows in order
        self.i, self.j, self.k, self.c = self.i[order], self.j[order], self.k[order], self.c[order]
        self.in_type, self.out_type, self.prod_type = tuple(in_type), out_type, prod_type
        self.n_prod_rows = off_prod[-1]
        self.n_pass = sum(n_pass[l] * (2 * l + 1) for l in range(L_out))
        assert off_out[-1] == self.n_pass + self.n_prod_rows
        # output rows of degree l: its pass-through rows, then its products
        pass_off = offsets(tuple(n_pass))
        pass_rows, prod_rows = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        for l in range(L_out):
            n_l = pass_off[l + 1] - pass_off[l]
            pass_rows.append(off_out[l] + np.arange(n_l))
            prod_rows.append(off_out[l] + n_l + np.arange(off_prod[l + 1] - off_prod[l]))
        self.pass_rows = np.concatenate(pass_rows).astype(np.int64)
        self.k_out = np.concatenate(prod_rows).astype(np.int64)[self.k]  # increasing like k

    @property
    def nnz(self) -> int:
        """Number of real multiply–adds per channel and sample."""
        return int(len(self.c))


@lru_cache(maxsize=64)
def _table(mixing: MixingSet, in_type: GType, include_input: bool) -> TPTable:
    return TPTable(mixing, in_type, include_input)


def tp_table(mixing: MixingSet, in_type: GType, include_input: bool = True) -> TPTable:
    """The (cached) gather table of an activation."""
    return _table(mixing, tuple(in_type), bool(include_input))


@lru_cache(maxsize=64)
def _device_table(table: TPTable, device: torch.device, dtype: torch.dtype) -> dict[str, torch.Tensor | None]:
    as_t = lambda a: torch.as_tensor(a, device=device)  # noqa: E731
    return {
        "i": as_t(table.i),
        "j": as_t(table.j),
        "c": torch.as_tensor(table.c, dtype=dtype, device=device),
        "k_out": as_t(table.k_out),
        "pass_rows": as_t(table.pass_rows),
    }


Chunk = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


@lru_cache(maxsize=256)
def _chunks(table: TPTable, device: torch.device, dtype: torch.dtype, step: int) -> tuple[Chunk, ...]:
    """The table's entries ``(i, j, k_out, c[:, None])`` split into chunks of ``step`` entries (views, cached)."""
    t = _device_table(table, device, dtype)
    if not len(t["c"]):
        return ()
    parts = (t["i"], t["j"], t["k_out"], t["c"].unsqueeze(1))
    return tuple(zip(*(p.split(step) for p in parts)))


def _products(
    x: torch.Tensor, i: torch.Tensor, j: torch.Tensor, k: torch.Tensor, c: torch.Tensor, n_out: int
) -> torch.Tensor:
    """``out[k] += c · x[i] · x[j]`` over all entries (rows no entry names stay 0): the fused loop's source."""
    return x.new_zeros(n_out, x.shape[1]).index_add(0, k, c.unsqueeze(1) * x[i] * x[j])


def _products_grad(
    g: torch.Tensor, x: torch.Tensor, i: torch.Tensor, j: torch.Tensor, k: torch.Tensor, c: torch.Tensor
) -> torch.Tensor:
    """The gradient of :func:`_products` with respect to ``x`` for the output gradient ``g``."""
    gk = c.unsqueeze(1) * g[k]
    return torch.zeros_like(x).index_add(0, i, gk * x[j]).index_add(0, j, gk * x[i])


#: Environment switch of the fused loop: ``1`` (default) or ``0``.
FUSED_ENV = "EQAUG_FUSED_TP"
#: Compiled variants allowed per loop (Dynamo's default is 8; tests alone use float32 and float64, with and without
#: autograd, in inference mode and not).
_RECOMPILE_LIMIT = 64
#: The compiled loops, built at the first use; ``None`` once compiling has failed in this process.
_fused_fns: dict[str, Any] | None = {}


def fused_enabled() -> bool:
    """Whether the fused loop may run (``EQAUG_FUSED_TP``, default ``1``; any other value than 0/1 is an error)."""
    value = os.environ.get(FUSED_ENV, "1")
    if value not in ("0", "1"):
        raise ValueError(f"{FUSED_ENV}={value!r}: allowed values are 1 (fused loop on CPU at one thread) and 0 (off)")
    return value == "1" and _fused_fns is not None


def _use_fused(x: torch.Tensor, nnz: int) -> bool:
    """CPU, one thread, a float input, and no tracing or dispatch mode (``FlopCounterMode``, an outer
    ``torch.compile``, ``torch.jit.trace``) that the compiled loop would hide its operations from."""
    return (
        x.device.type == "cpu"
        and torch.get_num_threads() == 1
        and nnz > 0
        and x.dtype in (torch.float32, torch.float64)
        and not is_in_torch_dispatch_mode()
        and not torch.compiler.is_compiling()
        and not torch.jit.is_tracing()
    ) and fused_enabled()


def _fused(name: str, *args: Any) -> torch.Tensor | None:
    """Call the compiled loop ``name`` (``"products"`` or ``"grad"``); ``None`` if it cannot be compiled here."""
    global _fused_fns
    if _fused_fns is None:
        return None
    fn = _fused_fns.get(name)
    if fn is None:
        source = _products if name == "products" else _products_grad
        # one graph for every layer and batch size (dynamic); sequential C++ (cpp.threads = 1): deterministic
        fn = _fused_fns[name] = torch.compile(source, dynamic=True, fullgraph=True, options={"cpp.threads": 1})
    # The loop is sequential, hence deterministic; under torch.use_deterministic_algorithms (Lightning's
    # deterministic=True) Inductor would replace its scatter-add by a sorting index_put_, several times slower.
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    # detached, contiguous inputs: fewer guard variants (requires_grad, views, strides) to compile for; each
    # dtype and autograd/inference mode is still one, so allow more than Dynamo's default of 8 per function
    args = tuple(a.detach().contiguous() if isinstance(a, torch.Tensor) else a for a in args)
    try:
        if deterministic:
            torch.use_deterministic_algorithms(False)
        with torch._dynamo.config.patch(recompile_limit=_RECOMPILE_LIMIT):
            return fn(*args)
    except Exception as err:  # noqa: BLE001 - no compiler, an unsupported platform: the chunked path computes it
        _fused_fns = None
        warnings.warn(
            f"the GSCNN's fused tensor-product loop could not be compiled or run ({type(err).__name__}: "
            f"{str(err).strip().splitlines()[0] if str(err).strip() else ''}); using the chunked path, about 2x slower "
            f"on CPU (set {FUSED_ENV}=0 to skip the attempt)",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    finally:
        if deterministic:
            torch.use_deterministic_algorithms(True, warn_only=warn_only)


class _FusedBilinear(torch.autograd.Function):
    """:class:`_BilinearGather` by the compiled loops (:func:`_products`, :func:`_products_grad`)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, table: dict[str, torch.Tensor], n_out: int) -> torch.Tensor:
        out = _fused("products", x, table["i"], table["j"], table["k_out"], table["c"], n_out)
        if out is None:
            raise _CompileFailed
        pass_rows = table["pass_rows"]
        if len(pass_rows):
            out.index_copy_(0, pass_rows, x[: len(pass_rows)])
        ctx.save_for_backward(x)
        ctx.table = table
        return out

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        (x,) = ctx.saved_tensors
        t = ctx.table
        g = g.contiguous()
        args = (g, x, t["i"], t["j"], t["k_out"], t["c"])
        gx = _fused("grad", *args)
        if gx is None:  # compiled forward, failed backward (e.g. a new shape): the same formula, unfused
            gx = _products_grad(*args)
        pass_rows = t["pass_rows"]
        if len(pass_rows):
            gx[: len(pass_rows)] += g.index_select(0, pass_rows)
        return gx, None, None


class _CompileFailed(Exception):
    """Raised inside :class:`_FusedBilinear` when the loop cannot be compiled (the caller falls back)."""


class _BilinearGather(torch.autograd.Function):
    """``out[k] = Σ c · x[i] · x[j]`` over table entries, and ``out[pass_rows] = x[:len(pass_rows)]``; ``x``: ``[D, N]``
    real; ``chunks``: the entries in chunks of at most ``step`` (:func:`_chunks`)."""

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, chunks: tuple[Chunk, ...], step: int, pass_rows: torch.Tensor, n_out: int
    ) -> torch.Tensor:
        ctx.save_for_backward(x, pass_rows)
        ctx.chunks, ctx.step = chunks, step
        out = x.new_zeros(n_out, x.shape[1])
        if len(pass_rows):
            out.index_copy_(0, pass_rows, x[: len(pass_rows)])
        buf_a, buf_b = x.new_empty(2, step, x.shape[1])  # reused chunk temporaries
        for i, j, k, c in chunks:
            n = len(i)
            a, b = (buf_a, buf_b) if n == step else (buf_a[:n], buf_b[:n])
            torch.index_select(x, 0, i, out=a)
            torch.index_select(x, 0, j, out=b)
            a.mul_(b).mul_(c)
            out.index_add_(0, k, a)
        return out

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, pass_rows = ctx.saved_tensors
        gx = torch.zeros_like(x, memory_format=torch.contiguous_format)
        g = g.contiguous()
        if len(pass_rows):
            torch.index_select(g, 0, pass_rows, out=gx[: len(pass_rows)])
        step = ctx.step
        buf_g, buf_x = x.new_empty(2, step, x.shape[1])  # reused chunk temporaries
        for i, j, k, c in ctx.chunks:
            n = len(i)
            gk, xo = (buf_g, buf_x) if n == step else (buf_g[:n], buf_x[:n])
            torch.index_select(g, 0, k, out=gk)
            gk.mul_(c)
            torch.index_select(x, 0, j, out=xo)
            gx.index_add_(0, i, xo.mul_(gk))
            torch.index_select(x, 0, i, out=xo)
            gx.index_add_(0, j, xo.mul_(gk))
        return gx, None, None, None, None


class TensorProductActivation(nn.Module):
    """Channel-wise tensor-product activation ``N`` on internal signals ``[D_in, B, C] → [D_out, B, C]``.

    Parameters
    ----------
    in_type : input type (its length is ``L_in``).
    L_out : output bandlimit (degrees ``< L_out``; default ``L_in``).
    mixing : ``"full"``, ``"mst"`` or ``"rmst"`` (:mod:`~eqaug.models.gscnn.mixing`).
    include_input : pass the input fragments through (first in each degree).
    self_loops, rmst_base : options of the mixing set.

    No parameters.  ``out_type`` is the output type; ``mixing_set`` the set; ``n_products`` the number of fragment
    products per channel; ``n_terms`` the number of real multiply–adds per channel and sample.
    """

    def __init__(
        self,
        in_type: GType,
        L_out: int | None = None,
        mixing: str = "rmst",
        include_input: bool = True,
        self_loops: bool = True,
        rmst_base: float = 2.0,
    ) -> None:
        super().__init__()
        self.in_type = tuple(in_type)
        L_in = len(self.in_type)
        self.L_out = L_in if L_out is None else int(L_out)
        self.mixing_set = degree_mixing_set(mixing, L_in, self.L_out, self_loops, rmst_base)
        self.include_input = include_input
        # the output type follows from the set alone; the Clebsch–Gordan table is built at the first use
        self.out_type = activation_out_type(self.in_type, self.L_out, mixing, include_input, self_loops, rmst_base)

    @property
    def table(self) -> TPTable:
        """The (cached) gather table, built on first access."""
        return tp_table(self.mixing_set, self.in_type, self.include_input)

    @property
    def n_products(self) -> int:
        """Fragment products per channel."""
        return sum(self.out_type) - (sum(self.in_type[: self.L_out]) if self.include_input else 0)

    @property
    def n_terms(self) -> int:
        """Real multiply–adds per channel and sample."""
        return self.table.nnz

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        D, B, C = x.shape
        table = self.table
        n_out = table.n_pass + table.n_prod_rows
        x = x.reshape(D, B * C)
        if _use_fused(x, table.nnz):
            try:
                out = _FusedBilinear.apply(x, _device_table(table, x.device, x.dtype), n_out)
                return out.reshape(n_out, B, C)
            except _CompileFailed:
                pass
        step = min(_chunk_rows(x), max(table.nnz, 1))
        chunks = _chunks(table, x.device, x.dtype, step)
        pass_rows = _device_table(table, x.device, x.dtype)["pass_rows"]
        return _BilinearGather.apply(x, chunks, step, pass_rows, n_out).reshape(n_out, B, C)

    def extra_repr(self) -> str:
        s = self.mixing_set
        return (
            f"L_in={s.L_in}, L_out={s.L_out}, mixing={s.kind!r}, include_input={self.include_input}, "
            f"products={self.n_products}, terms={self.n_terms}"
        )
