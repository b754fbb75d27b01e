"""The grouped per-degree kernel blocks (s2cnn._kernel_blocks) against a direct loop over degrees."""

import pytest
import torch

from s2cnn._kernel_blocks import ShellPlan, shell_blocks


def _direct(S_nat: torch.Tensor, weights: list[torch.Tensor], L: int, so3: bool, f_in: int, f_out: int) -> list:
    """``K_l = Σ_j w_l[j] ⊙ S[window_l, j]`` in the layers' layout, positions in natural order."""
    M = 2 * L - 1
    out = []
    for l, w in enumerate(weights):
        win = torch.arange(-l, l + 1) + (L - 1)
        k = 2 * l + 1
        if so3:
            Sw = S_nat.view(M, M, -1, f_in, f_out)[win][:, win]  # [b, n, j, c, c']
            Bl = torch.einsum("jbn,bnjcd->bcnd", w, Sw)
            out.append(Bl.reshape(k * f_in, k * f_out))
        else:
            Sw = S_nat.view(M, -1, f_in, f_out)[win]  # [n, j, c, c']
            Bl = torch.einsum("jn,njcd->cnd", w, Sw)
            out.append(Bl.reshape(f_in, k * f_out))
    return out


@pytest.mark.parametrize("so3", [False, True])
@pytest.mark.parametrize("L", [1, 3, 10])
def test_shell_blocks_match_direct_loop(so3: bool, L: int) -> None:
    g = torch.Generator().manual_seed(L)
    n_j, f_in, f_out = 4, 2, 3
    weights = [
        torch.randn(n_j, *((2 * l + 1,) * (2 if so3 else 1)), generator=g, dtype=torch.float64) for l in range(L)
    ]
    plan = ShellPlan(L, so3, weights)
    n_pos = (2 * L - 1) ** (2 if so3 else 1)
    S_nat = torch.randn(n_pos, n_j, f_in * f_out, generator=g, dtype=torch.float64, requires_grad=True)
    got = shell_blocks(S_nat[plan.order], plan, plan.tables, plan.gather_index(f_in), f_in, f_out)
    want = _direct(S_nat, weights, L, so3, f_in, f_out)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-13)
    gs = [torch.randn(a.shape, generator=g, dtype=torch.float64) for a in got]
    ga = torch.autograd.grad(got, S_nat, gs)[0]
    gb = torch.autograd.grad(want, S_nat, gs)[0]
    torch.testing.assert_close(ga, gb, rtol=1e-13, atol=1e-13)


def test_shell_blocks_gradcheck() -> None:
    L, f_in, f_out = 3, 2, 2
    weights = [torch.randn(3, 2 * l + 1, 2 * l + 1, dtype=torch.float64) for l in range(L)]
    plan = ShellPlan(L, True, weights)
    S = torch.randn(plan.order.numel(), 3, f_in * f_out, dtype=torch.float64, requires_grad=True)
    idx = plan.gather_index(f_in)
    assert torch.autograd.gradcheck(lambda s: shell_blocks(s, plan, plan.tables, idx, f_in, f_out), (S,))
