"""Optional on-disk cache of whole generated splits (for small sets; ``DataSpec.cache_dir``).

One uncompressed ``.npz`` per (spec fingerprint, split) in ``cache_dir``, holding ``images``
(``float32 [n, 1, 2b, 2b]``), ``targets`` (``int64 [n]`` classes, or ``uint8 [n, 2b, 2b]`` masks) and
``fingerprint``. The fingerprint hashes every field of the spec that changes the samples, the split,
its length, the source actually read, the content of the planar pool and :data:`CACHE_VERSION`
(bumped whenever the generator's output changes), so a stale file is never mistaken for a fresh one.

Files are written atomically (temporary file in the same directory, then ``os.replace``): a reader
sees either nothing or a complete file, and concurrent writers of the same split write identical
bytes. On load the file is validated (readable, keys, fingerprint, shapes, dtypes). **A corrupt or
mismatching file is not an error: it is regenerated and overwritten, with a** ``UserWarning``
**naming the file and the reason.** The split is loaded fully into memory: a cached split costs
``n · (4 + 1)·(2b)²`` bytes for segmentation (about 50 kB per sample at ``b = 50``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch

from eqaug.data.generator import SphericalGenerator

__all__ = ["CACHE_VERSION", "fingerprint", "cache_path", "load_cached_split", "save_cached_split", "cached_split"]

#: Bump when the generator's output for a given spec changes.
CACHE_VERSION = 1
#: Spec fields that do not change the samples.
_IGNORED_FIELDS = ("cache_dir", "root", "source", "n_train", "n_val", "n_test")
_BUILD_BATCH = 512


def fingerprint(generator: SphericalGenerator, n: int) -> str:
    """Hex digest identifying the samples ``0 … n−1`` of the generator's split."""
    fields = {k: v for k, v in dataclasses.asdict(generator.spec).items() if k not in _IGNORED_FIELDS}
    if fields.get("rotation") is None:  # added later: caches written before it keep their key
        fields.pop("rotation", None)
    if fields.get("conventions") == "eqaug":  # likewise
        fields.pop("conventions", None)
    pool = hashlib.blake2b(digest_size=16)
    pool.update(np.ascontiguousarray(generator.pool_images).data)
    pool.update(np.ascontiguousarray(generator.pool_labels).data)
    record = {
        "version": CACHE_VERSION,
        "spec": fields,
        "split": generator.split,
        "n": n,
        "source": generator.pools.source,
        "pool": pool.hexdigest(),
    }
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:20]


def cache_path(cache_dir: str | os.PathLike, generator: SphericalGenerator, digest: str) -> Path:
    """``cache_dir/<dataset>-<task>-b<b>-<split>-<digest>.npz``."""
    spec = generator.spec
    name = f"{spec.dataset}-{spec.task}-b{spec.bandwidth}-{generator.split}-{digest}.npz"
    return Path(cache_dir) / name


def _expected(generator: SphericalGenerator, n: int) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    side = 2 * generator.bandwidth
    targets = ((n,), np.dtype(np.int64)) if generator.spec.task == "cls" else ((n, side, side), np.dtype(np.uint8))
    return {"images": ((n, 1, side, side), np.dtype(np.float32)), "targets": targets}


def load_cached_split(
    path: Path, generator: SphericalGenerator, n: int, digest: str
) -> tuple[np.ndarray, np.ndarray] | None:
    """The cached ``(images, targets)`` if ``path`` holds a valid cache (fingerprint ``digest``), else ``None``.

    A present but invalid file triggers a ``UserWarning`` naming it and the reason. The file is closed
    on every path: we open it ourselves, because ``np.load(path)`` leaks its handle when the archive
    is rejected while being opened (e.g. a truncated zip raises ``BadZipFile`` after ``np.load`` has
    handed the handle to ``NpzFile``).
    """
    if not path.exists():
        return None
    try:
        with open(path, "rb") as fh:
            archive = np.load(fh, allow_pickle=False)
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ValueError(f"not an .npz archive (holds {type(archive).__name__})")
            with archive:
                arrays = {key: archive[key] for key in ("images", "targets", "fingerprint")}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        warnings.warn(f"data cache {path} is unreadable ({type(err).__name__}: {err}); regenerating it", stacklevel=3)
        return None
    problems = []
    if str(arrays["fingerprint"]) != digest:
        problems.append("fingerprint differs from the spec's")
    for key, (shape, dtype) in _expected(generator, n).items():
        if arrays[key].shape != shape or arrays[key].dtype != dtype:
            problems.append(f"{key} is {arrays[key].dtype} {list(arrays[key].shape)}, expected {dtype} {list(shape)}")
    if problems:
        warnings.warn(f"data cache {path} does not match ({'; '.join(problems)}); regenerating it", stacklevel=3)
        return None
    return arrays["images"], arrays["targets"]


def save_cached_split(path: Path, images: np.ndarray, targets: np.ndarray, digest: str) -> None:
    """Write the cache file atomically (temporary file + ``os.replace``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, images=images, targets=targets, fingerprint=np.array(digest))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cached_split(generator: SphericalGenerator, n: int, cache_dir: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Samples ``0 … n−1`` of the split as arrays, from the cache or generated and then cached."""
    digest = fingerprint(generator, n)
    path = cache_path(cache_dir, generator, digest)
    loaded = load_cached_split(path, generator, n, digest)
    if loaded is not None:
        return loaded
    (image_shape, image_dtype), (target_shape, target_dtype) = _expected(generator, n).values()
    images, targets = np.empty(image_shape, image_dtype), np.empty(target_shape, target_dtype)
    with torch.inference_mode():
        for start in range(0, n, _BUILD_BATCH):
            stop = min(start + _BUILD_BATCH, n)
            batch_images, batch_targets = generator.get_batch(np.arange(start, stop))
            images[start:stop] = batch_images.numpy()
            targets[start:stop] = batch_targets.numpy()
    save_cached_split(path, images, targets, digest)
    return images, targets
