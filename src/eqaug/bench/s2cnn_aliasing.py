"""Aliased vs exact up-sampling of the s2cnn layers (``upsampling="aliased"`` / ``"exact"``): output differences and
equivariance errors, float64, CPU.

Usage::

    python -m eqaug.bench aliasing [--out results/bench/s2cnn_aliasing.json] [--seeds 3]

Cases (default grids and scaling, b 8 → 12, batch 2): ``S2Convolution(1, 4)``, ``SO3Convolution(4, 4)``,
``SO3ToS2Convolution(4, 4)``, and ``SO3Convolution(4, 4)`` with every order of the aliased degrees kept
(``so3conv_all_orders``: the bins ``m mod 2b_in`` of the S² rule instead of the original's ``|m|, |n| < b_in``; a
diagnostic, not a layer option).  Per case and seed:

* ``rel_diff_white``: ``‖aliased(x) − exact(x)‖ / ‖exact(x)‖`` for white noise ``x ~ N(0, 1)`` on the grid;
* ``rel_diff_bandlimited``: the same for a random input band-limited to degrees ``< b_in`` (equal power per degree);
* ``equivariance_{exact,aliased}``: max over 3 Haar-random rotations of ``‖L(R x) − R L(x)‖ / ‖R L(x)‖`` on the
  band-limited input (rotations exact in harmonic space);
* ``grid_symmetry_aliased``: the same error for ``R_y(π)`` and an α-roll by one input step (white noise input).

Prints the JSON (and writes it with ``--out``); ``min``/``max`` over the seeds per quantity.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from typing import Any

import torch

from s2cnn import (
    S2Convolution,
    SO3Convolution,
    SO3ToS2Convolution,
    s2_grid_rotation_y_pi,
    s2_grid_rotation_z,
    s2_near_identity_grid,
    s2_rotation,
    so3_grid_rotation_y_pi,
    so3_grid_rotation_z,
    so3_near_identity_grid,
    so3_rotation,
)
from s2cnn.aliasing import aliased_real_blocks
from s2cnn.testing import equivariance_error, random_rotation, random_s2_signal, random_so3_signal, relative_error

__all__ = ["CASES", "measure_case", "measure", "build_parser", "main"]

B_IN, B_OUT, BATCH = 8, 12, 2


class _SO3AllOrders(SO3Convolution):
    """Diagnostic: aliased degrees with every order read from bin ``m mod 2b_in`` (no ``|m|, |n| < b_in`` mask)."""

    def _aliased_blocks(self, x: torch.Tensor) -> list[torch.Tensor]:
        if self.L_spec == self.L:
            return []
        return aliased_real_blocks(x, True, self.L, self.L_spec, max_order=None)


#: case → (layer class, f_in, f_out, S² input?, S² output?)
CASES: dict[str, tuple[type, int, int, bool, bool]] = {
    "s2conv": (S2Convolution, 1, 4, True, False),
    "so3conv": (SO3Convolution, 4, 4, False, False),
    "so3_to_s2": (SO3ToS2Convolution, 4, 4, False, True),
    "so3conv_all_orders": (_SO3AllOrders, 4, 4, False, False),
}


def _rot(s2: bool, R: tuple[float, float, float]) -> Callable[[torch.Tensor], torch.Tensor]:
    return (lambda t: s2_rotation(t, *R)) if s2 else (lambda t: so3_rotation(t, *R))


def measure_case(case: str, seed: int) -> dict[str, Any]:
    """The quantities of the module docstring for one case and seed."""
    cls, f_in, f_out, s2_in, s2_out = CASES[case]
    grid = s2_near_identity_grid() if s2_in else so3_near_identity_grid()
    torch.manual_seed(seed)
    exact = cls(f_in, f_out, B_IN, B_OUT, grid).double()
    aliased = cls(f_in, f_out, B_IN, B_OUT, grid, upsampling="aliased").double()
    aliased.load_state_dict(exact.state_dict())
    g = torch.Generator().manual_seed(seed)
    white = torch.randn(BATCH, f_in, *[2 * B_IN] * (2 if s2_in else 3), dtype=torch.float64, generator=g)
    band = (random_s2_signal if s2_in else random_so3_signal)(B_IN, BATCH, f_in, generator=g)
    with torch.no_grad():
        res: dict[str, Any] = {
            "rel_diff_white": relative_error(aliased(white), exact(white)),
            "rel_diff_bandlimited": relative_error(aliased(band), exact(band)),
        }
    Rs = [random_rotation(g) for _ in range(3)]
    for name, layer in (("exact", exact), ("aliased", aliased)):
        res[f"equivariance_{name}"] = max(equivariance_error(layer, band, _rot(s2_in, R), _rot(s2_out, R)) for R in Rs)
    flip_in = s2_grid_rotation_y_pi if s2_in else so3_grid_rotation_y_pi
    flip_out = s2_grid_rotation_y_pi if s2_out else so3_grid_rotation_y_pi
    roll_in = (lambda t: s2_grid_rotation_z(t, 1)) if s2_in else (lambda t: so3_grid_rotation_z(t, 1))
    res["grid_symmetry_aliased"] = max(
        equivariance_error(aliased, white, flip_in, flip_out),
        equivariance_error(aliased, white, roll_in, _rot(s2_out, (2 * math.pi / (2 * B_IN), 0.0, 0.0))),
    )
    return res


def measure(seeds: int = 3) -> dict[str, Any]:
    """All cases over ``seeds`` seeds: per quantity the values and their min and max."""
    out: dict[str, Any] = {"b_in": B_IN, "b_out": B_OUT, "batch": BATCH, "dtype": "float64", "cases": {}}
    for case in CASES:
        runs = [measure_case(case, s) for s in range(seeds)]
        out["cases"][case] = {
            k: {"values": [r[k] for r in runs], "min": min(r[k] for r in runs), "max": max(r[k] for r in runs)}
            for k in runs[0]
        }
    return out


def build_parser(prog: str = "python -m eqaug.bench aliasing") -> argparse.ArgumentParser:
    """Command-line options (``--seeds``, ``--out``)."""
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--out", default=None, help="also write the JSON here")
    return p


def main(argv: list[str] | None = None, prog: str = "python -m eqaug.bench aliasing") -> int:
    """Entry point: print (and optionally write) the measurements as JSON."""
    args = build_parser(prog).parse_args(argv)
    result = measure(args.seeds)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        from eqaug.bench.io import write_json

        write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
