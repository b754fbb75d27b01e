"""Haar integrals."""

from __future__ import annotations

import torch

from s2cnn import fft, integrate, rotation
from s2cnn.testing import random_rotation, random_s2_signal, random_so3_signal


def test_integral_of_one(dtype):
    for b in (1, 4, 13):
        torch.testing.assert_close(
            integrate.so3_integrate(torch.ones(2, 3, 2 * b, 2 * b, 2 * b, dtype=dtype)), torch.ones(2, 3, dtype=dtype)
        )
        torch.testing.assert_close(
            integrate.s2_integrate(torch.ones(5, 2 * b, 2 * b, dtype=dtype)), torch.ones(5, dtype=dtype)
        )


def test_integral_is_degree_zero_coefficient_and_invariant(gen):
    x = random_so3_signal(5, 2, 3, generator=gen)
    torch.testing.assert_close(integrate.so3_integrate(x), fft.so3_rfft(x)[..., 0].real)
    R = random_rotation(gen)
    torch.testing.assert_close(integrate.so3_integrate(rotation.so3_rotation(x, *R)), integrate.so3_integrate(x))
    s = random_s2_signal(6, 4, generator=gen)
    torch.testing.assert_close(integrate.s2_integrate(s), fft.s2_rfft(s)[..., 0].real)
    torch.testing.assert_close(integrate.s2_integrate(rotation.s2_rotation(s, *R)), integrate.s2_integrate(s))


def test_gradcheck_integrate_and_shortcut():
    """``so3_integrate`` and a non-trivial ``SO3Shortcut`` have correct gradients (float64, finite differences)."""
    from s2cnn import SO3Shortcut

    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, 3, 6, 6, 6, dtype=torch.float64, generator=gen, requires_grad=True)
    assert torch.autograd.gradcheck(integrate.so3_integrate, (x,))
    torch.manual_seed(0)
    shortcut = SO3Shortcut(3, 2, 3, 2).double()
    assert shortcut.conv is not None
    assert torch.autograd.gradcheck(shortcut, (x,), fast_mode=True)
    assert SO3Shortcut(3, 3, 3, 3)(x) is x  # same shape: the identity
