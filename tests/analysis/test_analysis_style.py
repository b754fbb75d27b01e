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
        ("cnn_seg_218k_b16", "CNN 218k b16"),
        ("cnn_seg_218k_circ_small", "Sphere CNN 218k small"),
        ("zonal_seg_small", "Zonal small"),
        ("sphcnn_seg_tiny", "Sphere CNN tiny"),
    ],
)
def test_display_name(name, label):
    assert display_name(name) == label
