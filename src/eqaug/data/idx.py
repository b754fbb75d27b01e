"""Reader and writer of the IDX format of the MNIST / FashionMNIST files (plain or gzipped).

An IDX file is a big-endian header followed by the raw array:

* bytes 0-1: zero; byte 2: element type code (``0x08`` uint8, ``0x09`` int8, ``0x0B`` int16,
  ``0x0C`` int32, ``0x0D`` float32, ``0x0E`` float64); byte 3: number of dimensions ``d``;
* ``d`` big-endian uint32 sizes, then ``prod(sizes)`` elements in C order.

Every malformed file raises :class:`IdxFormatError`, whose message names the file.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
from pathlib import Path

import numpy as np

__all__ = ["IdxFormatError", "read_idx", "read_idx_shape", "write_idx"]

_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {np.dtype(v).newbyteorder("=").str: k for k, v in _DTYPES.items()}


class IdxFormatError(ValueError):
    """A file is not a valid IDX file (bad magic, truncated, trailing bytes, unreadable gzip)."""


def _open(path: Path) -> io.BufferedIOBase:
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _parse_header(path: Path, head: bytes) -> tuple[np.dtype, tuple[int, ...], int]:
    if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _DTYPES:
        raise IdxFormatError(
            f"{path}: not an IDX file (bad magic {head[:4].hex() or '<empty>'}; expected 0000 + type code "
            f"{'/'.join(f'{c:02x}' for c in _DTYPES)} + number of dimensions)"
        )
    ndim = head[3]
    if len(head) < 4 + 4 * ndim:
        raise IdxFormatError(f"{path}: truncated IDX header ({len(head)} bytes, {ndim} dimensions announced)")
    shape = struct.unpack(f">{ndim}I", head[4 : 4 + 4 * ndim])
    return _DTYPES[head[2]], tuple(int(s) for s in shape), 4 + 4 * ndim


def read_idx_shape(path: str | os.PathLike) -> tuple[int, ...]:
    """Shape announced by the header of an IDX file (reads only the header)."""
    path = Path(path)
    try:
        with _open(path) as fh:
            head = fh.read(4 + 4 * 255)
    except (OSError, EOFError) as err:
        raise IdxFormatError(f"{path}: cannot read IDX header ({err})") from err
    return _parse_header(path, head)[1]


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (``.gz`` is decompressed) into an array of its declared type and shape.

    Raises
    ------
    IdxFormatError
        The magic number is wrong, the data is shorter or longer than the header announces,
        or the gzip stream is corrupt. The message names the file.
    FileNotFoundError
        The file does not exist.
    """
    path = Path(path)
    try:
        with _open(path) as fh:
            raw = fh.read()
    except (OSError, EOFError) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise IdxFormatError(f"{path}: cannot read ({err})") from err
    dtype, shape, offset = _parse_header(path, raw[: 4 + 4 * 255])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(raw) - offset
    if got != expected:
        kind = "truncated" if got < expected else "has trailing bytes"
        raise IdxFormatError(f"{path}: {kind}: header announces shape {shape} ({expected} bytes of data), found {got}")
    return np.frombuffer(raw, dtype=dtype, offset=offset).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file (gzipped when ``path`` ends in ``.gz``); returns the path."""
    path = Path(path)
    array = np.ascontiguousarray(array)
    key = array.dtype.newbyteorder("=").str
    if key not in _CODES:
        raise ValueError(f"dtype {array.dtype} cannot be stored in IDX; use one of {sorted(_CODES)}")
    code = _CODES[key]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = array.astype(_DTYPES[code], copy=False).tobytes()
    with gzip.open(path, "wb") if path.suffix == ".gz" else open(path, "wb") as fh:
        fh.write(header + data)
    return path
