import gzip

import numpy as np
import pytest

from eqaug.data.idx import IdxFormatError, read_idx, read_idx_shape, write_idx


@pytest.mark.parametrize("name", ["a-idx3-ubyte", "a-idx3-ubyte.gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.float32, np.float64])
def test_round_trip(tmp_path, name, dtype):
    array = (np.arange(2 * 3 * 4) * 7 % 251).astype(dtype).reshape(2, 3, 4)
    path = write_idx(tmp_path / name, array)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.shape == (2, 3, 4)
    np.testing.assert_array_equal(back, array)
    assert read_idx_shape(path) == (2, 3, 4)
    back[0, 0, 0] = 1  # writeable, native byte order


def test_reads_known_header_bytes(tmp_path):
    raw = bytes([0, 0, 0x08, 1]) + (3).to_bytes(4, "big") + bytes([5, 6, 7])
    (tmp_path / "x").write_bytes(raw)
    np.testing.assert_array_equal(read_idx(tmp_path / "x"), [5, 6, 7])


def test_bad_magic_names_file(tmp_path):
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(b"PK\x03\x04" + bytes(20))
    with pytest.raises(IdxFormatError, match="bad-idx1-ubyte.*not an IDX file"):
        read_idx(path)


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_names_file(tmp_path, gz):
    path = write_idx(tmp_path / ("t-idx3-ubyte" + (".gz" if gz else "")), np.ones((4, 28, 28), np.uint8))
    data = gzip.decompress(path.read_bytes()) if gz else path.read_bytes()
    path.write_bytes(gzip.compress(data[:-10]) if gz else data[:-10])
    with pytest.raises(IdxFormatError, match=r"t-idx3-ubyte.*truncated"):
        read_idx(path)


def test_trailing_bytes_and_broken_gzip(tmp_path):
    path = write_idx(tmp_path / "x-idx1-ubyte", np.arange(5, dtype=np.uint8))
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(IdxFormatError, match="trailing bytes"):
        read_idx(path)
    gz = tmp_path / "y-idx1-ubyte.gz"
    gz.write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(IdxFormatError, match="y-idx1-ubyte.gz"):
        read_idx(gz)
