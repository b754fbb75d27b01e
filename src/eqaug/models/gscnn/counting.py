"""Parameter counting of the generalized layers from the degree-mixing sets alone (no tables, no modules)."""

from __future__ import annotations

from eqaug.models.gscnn.mixing import degree_mixing_set, fragment_pairs

__all__ = ["activation_out_type", "constrained_conv_params", "generalized_layer_params"]

GType = tuple[int, ...]


def activation_out_type(
    in_type: GType, L_out: int, mixing: str, include_input: bool, self_loops: bool = True, rmst_base: float = 2.0
) -> GType:
    """Output type ``τ'`` of the tensor-product activation (pass-through fragments first, then products)."""
    s = degree_mixing_set(mixing, len(in_type), L_out, self_loops, rmst_base)
    tau = [in_type[l] if (include_input and l < len(in_type)) else 0 for l in range(L_out)]
    for l1, l2, l in s.triples:
        tau[l] += len(fragment_pairs(l1, l2, l, in_type[l1], in_type[l2]))
    return tuple(tau)


def constrained_conv_params(c_in: int, c_out: int, in_type: GType, tau_out: int, bias: bool = True) -> int:
    """``Σ_l [τ_out τ_l + C_in τ_out² + C_out C_in] + C_out τ_out`` (uniform, channel-wise, cross-channel, bias)."""
    L = len(in_type)
    n = sum(tau_out * t for t in in_type) + L * (c_in * tau_out**2 + c_out * c_in)
    return n + (c_out * tau_out if bias and L > 0 else 0)


def generalized_layer_params(
    c_in: int,
    c_out: int,
    in_type: GType,
    L_out: int,
    tau_out: int,
    mixing: str = "rmst",
    include_input: bool = True,
    self_loops: bool = True,
    rmst_base: float = 2.0,
    bias: bool = True,
) -> int:
    """Parameters of one generalized layer (the normalisation has none)."""
    act = activation_out_type(in_type, L_out, mixing, include_input, self_loops, rmst_base)
    return constrained_conv_params(c_in, c_out, act, tau_out, bias)
