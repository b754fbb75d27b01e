"""Epoch-level segmentation and classification metrics.

Non-background mIoU (the paper's metric) is computed from the confusion matrix ``M`` accumulated
over the whole epoch (rows: target, columns: prediction)::

    IoU_c = M_cc / (Σ_k M_ck + Σ_k M_kc − M_cc),      mIoU_nb = mean_{c = 1 … C−1} IoU_c

so background pixels predicted as class ``c`` (and class ``c`` predicted as background) count in
class ``c``'s union. A class absent from both target and prediction has no IoU (NaN) and is left
out of the mean. Two pitfalls avoided here: ``MulticlassJaccardIndex(ignore_index=0)`` drops
background *pixels* (foreground false positives vanish), and ``torchmetrics.segmentation.MeanIoU``
averages per-image IoUs, a different statistic from the dataset-level IoU of the paper.

The area-weighted variant weights each pixel by its share of the sphere's area (the SOFT
quadrature weight of its row, ``s2cnn.grids.quadrature_weights``), so polar pixels, which cover
less area, count less.
"""

from __future__ import annotations

import torch
from torchmetrics import Metric
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix

from s2cnn.grids import quadrature_weights


def iou_per_class(confusion: torch.Tensor) -> torch.Tensor:
    """Per-class IoU from a confusion matrix ``[C, C]`` (rows target, columns prediction); NaN where undefined."""
    confusion = confusion.double()
    tp = confusion.diagonal()
    union = confusion.sum(0) + confusion.sum(1) - tp
    return torch.where(union > 0, tp / union.clamp_min(1e-300), torch.full_like(tp, float("nan")))


def nonbackground_miou(confusion: torch.Tensor) -> float:
    """Mean IoU over classes ``1 … C−1`` (background is class 0), ignoring classes with undefined IoU."""
    iou = iou_per_class(confusion)[1:]
    valid = ~torch.isnan(iou)
    return float(iou[valid].mean()) if bool(valid.any()) else float("nan")


def pixel_accuracy(confusion: torch.Tensor) -> float:
    """Fraction (or weighted fraction) of correctly classified pixels."""
    confusion = confusion.double()
    total = confusion.sum()
    return float(confusion.diagonal().sum() / total) if total > 0 else float("nan")


class WeightedConfusionMatrix(Metric):
    """Confusion matrix with a per-pixel weight, summed over all updates (and over processes in DDP).

    Parameters
    ----------
    num_classes : number of classes ``C``.
    pixel_weights : ``[H, W]`` weights of the pixels of one image (e.g. their areas).
    """

    full_state_update = False

    def __init__(self, num_classes: int, pixel_weights: torch.Tensor) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.register_buffer("pixel_weights", pixel_weights.double(), persistent=False)
        self.add_state(
            "confmat", default=torch.zeros(num_classes, num_classes, dtype=torch.float64), dist_reduce_fx="sum"
        )

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        """``preds`` and ``target``: integer class maps ``[B, H, W]``."""
        c = self.num_classes
        idx = (target.long() * c + preds.long()).reshape(target.shape[0], -1)
        w = self.pixel_weights.reshape(1, -1).expand_as(idx)
        self.confmat += torch.bincount(idx.reshape(-1), weights=w.reshape(-1), minlength=c * c).reshape(c, c)

    def compute(self) -> torch.Tensor:
        return self.confmat


def sphere_pixel_weights(bandwidth: int) -> torch.Tensor:
    """Area share of each pixel of the ``2b × 2b`` SOFT grid, ``[2b, 2b]``, summing to 1."""
    w = quadrature_weights(bandwidth)
    return (w[:, None] / (2 * bandwidth)).expand(2 * bandwidth, 2 * bandwidth).contiguous()


class SegmentationMetrics(torch.nn.Module):
    """Pixel-count and area-weighted confusion matrices of one evaluation split."""

    def __init__(self, num_classes: int, bandwidth: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.counts = MulticlassConfusionMatrix(num_classes=num_classes)
        self.area = WeightedConfusionMatrix(num_classes, sphere_pixel_weights(bandwidth))

    def update(self, logits: torch.Tensor, target: torch.Tensor) -> None:
        preds = logits.argmax(1)
        self.counts.update(preds, target)
        self.area.update(preds, target)

    def compute(self) -> dict[str, object]:
        counts = self.counts.compute()
        area = self.area.compute()
        return {
            "miou_nb": nonbackground_miou(counts),
            "miou_nb_area": nonbackground_miou(area),
            "pixel_acc": pixel_accuracy(counts),
            "pixel_acc_area": pixel_accuracy(area),
            "iou_per_class": [None if torch.isnan(v) else float(v) for v in iou_per_class(counts)],
            "iou_per_class_area": [None if torch.isnan(v) else float(v) for v in iou_per_class(area)],
        }

    def reset(self) -> None:
        self.counts.reset()
        self.area.reset()


class ClassificationMetrics(torch.nn.Module):
    """Micro-averaged accuracy over the epoch, plus per-class accuracy."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.acc = MulticlassAccuracy(num_classes=num_classes, average="micro")
        self.per_class = MulticlassAccuracy(num_classes=num_classes, average="none")

    def update(self, logits: torch.Tensor, target: torch.Tensor) -> None:
        preds = logits.argmax(1)
        self.acc.update(preds, target)
        self.per_class.update(preds, target)

    def compute(self) -> dict[str, object]:
        return {"acc": float(self.acc.compute()), "acc_per_class": [float(v) for v in self.per_class.compute()]}

    def reset(self) -> None:
        self.acc.reset()
        self.per_class.reset()


def build_metrics(task: str, num_classes: int, bandwidth: int) -> torch.nn.Module:
    """Metrics of a task: ``"seg"`` → :class:`SegmentationMetrics`, ``"cls"`` → :class:`ClassificationMetrics`."""
    if task == "seg":
        return SegmentationMetrics(num_classes, bandwidth)
    if task == "cls":
        return ClassificationMetrics(num_classes)
    raise ValueError(f"task={task!r} is not allowed; choose 'seg' or 'cls'")


#: The validation score monitored by early stopping, per task (higher is better).
MONITOR = {"seg": "miou_nb", "cls": "acc"}
