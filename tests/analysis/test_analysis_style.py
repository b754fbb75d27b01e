"""Readable model names in figures and tables."""

import pytest

from eqaug.analysis.style import display_name


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("s2cnn_seg_204k", "S2CNN 204k"),
        ("cnn_seg_5m5_small", "CNN 5.5M small"),
        ("gscnn_seg_small", "GSCNN small"),
        ("gscnn_cls", "GSCNN"),
        ("cnn_seg_tiny", "CNN tiny"),
        ("my_model", "my_model"),
    ],
)
def test_display_name(name, label):
    assert display_name(name) == label
