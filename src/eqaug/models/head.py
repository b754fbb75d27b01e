"""Fully connected classification head shared by the classifiers."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["FCHead"]


class FCHead(nn.Module):
    """``[Linear → BatchNorm1d → ReLU] × len(hidden) → Linear(n_classes)``.

    With two hidden widths this is the paper's "three fully connected layers, alternated with
    batch-normalization layers" (Sec. 3.1); the ReLUs make the stack non-linear.

    Parameters
    ----------
    c_in : input features.
    hidden : hidden widths.
    n_classes : output logits.
    """

    def __init__(self, c_in: int, hidden: list[int], n_classes: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        prev = c_in
        for h in hidden:
            layers += [nn.Linear(prev, h), nn.BatchNorm1d(h), nn.ReLU()]
            prev = h
        layers.append(nn.Linear(prev, n_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)
