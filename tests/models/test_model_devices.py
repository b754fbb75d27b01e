"""Every family's forward and backward on each test device (``device``: CPU, plus CUDA where present).

On CUDA the output must match the CPU's (float32; loose tolerance, since cuDNN convolutions may use TF32) and
every parameter must get a finite gradient on the device; ``make gpu-check`` runs these with ``-m cuda``.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from eqaug.models import as_spec, build_model
from s2cnn.testing import relative_error

torch.set_num_threads(1)

TINY = [
    "cnn_seg_tiny",
    "cnn_cls_tiny",
    "s2cnn_seg_tiny",
    "s2cnn_cls_tiny",
    "gscnn_seg_tiny",
    "gscnn_cls_tiny",
    "sphcnn_seg_tiny",
    "sphcnn_cls_tiny",
    "zonal_seg_tiny",
    "zonal_cls_tiny",
]


@pytest.mark.parametrize("name", TINY)
def test_forward_and_backward_on_the_device(name, device):
    spec = as_spec(name)
    torch.manual_seed(0)
    model = build_model(spec)
    b = spec.bandwidth
    x = torch.rand(3, spec.in_channels, 2 * b, 2 * b, generator=torch.Generator().manual_seed(1))
    seg = spec.family.endswith("_seg")
    target = torch.randint(0, spec.n_classes, (3, 2 * b, 2 * b) if seg else (3,), generator=torch.Generator())
    with torch.no_grad():
        reference = model.eval()(x)
        model = model.to(device)
        assert relative_error(model(x.to(device)).cpu(), reference) < 2e-2
    out = model.train()(x.to(device))
    assert out.device.type == device.type and out.dtype == torch.float32
    assert out.shape == ((3, spec.n_classes, 2 * b, 2 * b) if seg else (3, spec.n_classes))
    F.cross_entropy(out, target.to(device)).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and p.grad.device.type == device.type, pname
        assert torch.isfinite(p.grad).all(), pname
