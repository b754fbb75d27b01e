"""s2cnn — a pure-PyTorch implementation of the S2CNN layer API (Cohen et al. 2018).

Conventions live in :mod:`s2cnn.grids` (grids, Euler angles, quadrature, kernel grids),
:mod:`s2cnn.wigner` (Wigner-D phase convention) and :mod:`s2cnn.coeffs` (coefficient layouts).
"""

from .coeffs import (
    hermitian_part,
    s2_bandwidth,
    s2_coeffs_to_list,
    s2_full_to_half,
    s2_half_to_full,
    s2_list_to_coeffs,
    s2_num_coeffs,
    s2_resize,
    so3_bandwidth,
    so3_coeffs_to_list,
    so3_full_to_half,
    so3_half_to_full,
    so3_list_to_coeffs,
    so3_num_coeffs,
    so3_resize,
)
from .fft import s2_fft, s2_ifft, s2_irfft, s2_rfft, so3_fft, so3_ifft, so3_irfft, so3_rfft
from .grids import (
    euler_to_matrix,
    matrix_to_euler,
    quadrature_weights,
    s2_equatorial_grid,
    s2_grid,
    s2_near_identity_grid,
    so3_equatorial_grid,
    so3_grid,
    so3_near_identity_grid,
)
from .integrate import s2_integrate, so3_integrate
from .layers import S2Convolution, SO3Convolution, SO3Shortcut, SO3ToS2, SO3ToS2Convolution
from .rotation import (
    rotate_s2_coeffs,
    rotate_so3_coeffs,
    s2_grid_rotation_y_pi,
    s2_grid_rotation_z,
    s2_rotation,
    so3_grid_rotation_y_pi,
    so3_grid_rotation_z,
    so3_rotation,
)
from .wigner import wigner_D, wigner_d, wigner_D_list, wigner_d_list

__version__ = "0.1.0"

__all__ = [
    # layers
    "S2Convolution",
    "SO3Convolution",
    "SO3ToS2Convolution",
    "SO3ToS2",
    "SO3Shortcut",
    "so3_integrate",
    "s2_integrate",
    "s2_rotation",
    "so3_rotation",
    # grids
    "s2_near_identity_grid",
    "s2_equatorial_grid",
    "so3_near_identity_grid",
    "so3_equatorial_grid",
    "s2_grid",
    "so3_grid",
    "quadrature_weights",
    "euler_to_matrix",
    "matrix_to_euler",
    # transforms
    "s2_rfft",
    "s2_irfft",
    "so3_rfft",
    "so3_irfft",
    "s2_fft",
    "s2_ifft",
    "so3_fft",
    "so3_ifft",
    # coefficients
    "s2_num_coeffs",
    "so3_num_coeffs",
    "s2_bandwidth",
    "so3_bandwidth",
    "s2_coeffs_to_list",
    "s2_list_to_coeffs",
    "so3_coeffs_to_list",
    "so3_list_to_coeffs",
    "s2_half_to_full",
    "s2_full_to_half",
    "so3_half_to_full",
    "so3_full_to_half",
    "s2_resize",
    "so3_resize",
    "hermitian_part",
    "rotate_s2_coeffs",
    "rotate_so3_coeffs",
    # exact grid rotations
    "s2_grid_rotation_z",
    "so3_grid_rotation_z",
    "s2_grid_rotation_y_pi",
    "so3_grid_rotation_y_pi",
    # Wigner
    "wigner_d",
    "wigner_d_list",
    "wigner_D",
    "wigner_D_list",
]
