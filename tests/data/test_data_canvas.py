import numpy as np
import pytest

from eqaug.data.canvas import compose_canvases, default_canvas_size, place_items


def test_compose_pastes_items_with_masks_and_later_items_win():
    a = np.zeros((28, 28), np.uint8)
    a[:, :] = 200
    b = np.zeros((28, 28), np.uint8)
    b[10:, 10:] = 160
    b[0, 0] = 255  # overlaps a: the image keeps the max, the mask takes b's label
    images, masks = compose_canvases(
        np.stack([a, b])[None],
        np.array([[2, 7]]),
        np.array([[0, 5]]),
        np.array([[0, 5]]),
        canvas_size=40,
        threshold=150,
    )
    assert images.shape == masks.shape == (1, 40, 40) and images.dtype == masks.dtype == np.uint8
    assert images[0, 0, 0] == 200 and masks[0, 0, 0] == 3  # class 2 → label 3
    assert images[0, 5, 5] == 255 and masks[0, 5, 5] == 8  # b's pixel (0, 0) at (5, 5): later item wins
    assert masks[0, 6, 6] == 3  # b is background there: a's label stays
    assert images[0, 30, 30] == 160 and masks[0, 30, 30] == 8
    assert images[0, 39, 0] == 0 and masks[0, 39, 0] == 0


def test_threshold_is_strict():
    item = np.full((1, 1, 28, 28), 150, np.uint8)
    _, masks = compose_canvases(item, np.array([[0]]), np.zeros((1, 1), int), np.zeros((1, 1), int), 28, 150)
    assert masks.max() == 0


def test_layout_sizes_and_errors():
    assert [default_canvas_size(k) for k in (1, 2, 4, 5, 9)] == [28, 64, 64, 92, 92]
    tops, lefts = place_items(np.array([[0.9, 0.1, 0.5, 0.3]]), np.full((1, 2, 2), 0.999), 64)
    assert tops.tolist() == [[4, 32 + 4]] and lefts.tolist() == [[32 + 4, 32 + 4]]  # cells 1 and 3, offset 4
    with pytest.raises(ValueError, match="canvas_size=50 is too small for 4 items"):
        place_items(np.zeros((1, 4)), np.zeros((1, 4, 2)), 50)
