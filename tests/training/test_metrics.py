"""Segmentation/classification metrics against values computed by hand."""

import math

import pytest
import torch

from eqaug.training.metrics import (
    ClassificationMetrics,
    SegmentationMetrics,
    iou_per_class,
    nonbackground_miou,
    pixel_accuracy,
    sphere_pixel_weights,
)


def one_hot_logits(pred: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Logits [B, C, H, W] whose argmax is ``pred`` [B, H, W]."""
    return torch.nn.functional.one_hot(pred, num_classes).permute(0, 3, 1, 2).float()


# Hand-made case (classes: 0 = background, 1, 2), six pixels:
#   target 0 0 1 1 2 2
#   pred   1 0 1 1 2 0
# confusion (rows target, columns prediction): [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
# IoU_1 = 2 / (2 + 3 - 2) = 2/3 (the background pixel predicted as 1 is in the union)
# IoU_2 = 1 / (2 + 1 - 1) = 1/2
# non-background mIoU = (2/3 + 1/2) / 2 = 7/12; pixel accuracy 4/6
TARGET = torch.tensor([0, 0, 1, 1, 2, 2])
PRED = torch.tensor([1, 0, 1, 1, 2, 0])


def test_nonbackground_miou_by_hand():
    confusion = torch.tensor([[1, 1, 0], [0, 2, 0], [1, 0, 1]])
    assert iou_per_class(confusion).tolist() == pytest.approx([1 / 3, 2 / 3, 1 / 2])
    assert nonbackground_miou(confusion) == pytest.approx(7 / 12)
    assert pixel_accuracy(confusion) == pytest.approx(4 / 6)


def test_segmentation_metrics_accumulate_over_batches():
    """Two batches accumulate into one confusion matrix: not the mean of per-batch mIoUs."""
    metrics = SegmentationMetrics(num_classes=3, bandwidth=1)  # 2 x 2 pixels per image
    # the six pixels plus two correctly predicted background pixels, as two 2x2 images:
    #   image 0: target 0 1 2 0, pred 1 1 2 0 -> alone: IoU_1 = 1/2, IoU_2 = 1 -> mIoU 3/4
    #   image 1: target 0 1 2 0, pred 0 1 0 0 -> alone: IoU_1 = 1,   IoU_2 = 0 -> mIoU 1/2
    target = torch.tensor([[0, 1, 2, 0], [0, 1, 2, 0]]).reshape(2, 2, 2)
    pred = torch.tensor([[1, 1, 2, 0], [0, 1, 0, 0]]).reshape(2, 2, 2)
    for i in range(2):
        metrics.update(one_hot_logits(pred[i : i + 1], 3), target[i : i + 1])
    out = metrics.compute()
    # extra correct background pixels: confusion [[3, 1, 0], [0, 2, 0], [1, 0, 1]] -> IoU_1 = 2/3, IoU_2 = 1/2
    assert out["miou_nb"] == pytest.approx(7 / 12)
    assert out["pixel_acc"] == pytest.approx(6 / 8)
    # the mean of per-batch mIoUs is a different statistic: (3/4 + 1/2) / 2 = 5/8
    per_batch = []
    for i in range(2):
        m = SegmentationMetrics(num_classes=3, bandwidth=1)
        m.update(one_hot_logits(pred[i : i + 1], 3), target[i : i + 1])
        per_batch.append(m.compute()["miou_nb"])
    assert sum(per_batch) / 2 == pytest.approx(5 / 8)


def test_ignore_index_pitfall_differs():
    """torchmetrics' ignore_index=0 drops background pixels and inflates the score; ours does not."""
    from torchmetrics.classification import MulticlassJaccardIndex

    jaccard = MulticlassJaccardIndex(num_classes=3, ignore_index=0, average="none")
    inflated = jaccard(PRED, TARGET)[1:].mean().item()
    assert inflated > 7 / 12 + 0.1


def test_absent_class_is_left_out():
    confusion = torch.tensor([[5, 0, 0], [0, 2, 0], [0, 0, 0]])
    iou = iou_per_class(confusion)
    assert math.isnan(iou[2])
    assert nonbackground_miou(confusion) == pytest.approx(1.0)


def test_area_weights_sum_to_one_and_shrink_at_poles():
    w = sphere_pixel_weights(8)
    assert w.shape == (16, 16)
    assert float(w.sum()) == pytest.approx(1.0)
    assert w[0, 0] < w[8, 0] / 5  # polar rows cover much less area than equatorial rows


def test_area_weighted_miou_weights_pixels():
    b = 4
    target = torch.zeros(1, 2 * b, 2 * b, dtype=torch.long)
    target[0, 0, :] = 1  # a class living on the polar row
    target[0, b, :] = 1  # and on an equatorial row
    pred = target.clone()
    pred[0, 0, :] = 0  # polar row missed
    m = SegmentationMetrics(num_classes=2, bandwidth=b)
    m.update(one_hot_logits(pred, 2), target)
    out = m.compute()
    assert out["miou_nb"] == pytest.approx(0.5)  # half the pixels of class 1 found
    assert out["miou_nb_area"] > 0.8  # but most of its area


def test_classification_accuracy():
    m = ClassificationMetrics(num_classes=3)
    logits = torch.eye(3)[torch.tensor([0, 1, 2, 2])]
    m.update(logits[:2], torch.tensor([0, 1]))
    m.update(logits[2:], torch.tensor([2, 0]))
    out = m.compute()
    assert out["acc"] == pytest.approx(3 / 4)
    assert out["acc_per_class"] == pytest.approx([0.5, 1.0, 1.0])
