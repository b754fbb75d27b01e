import gc
import os
import warnings

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from eqaug.data import DataSpec, SampleBatch, SphericalDataset, collate_batch, make_dataloader
from eqaug.data.cache import CACHE_VERSION, cache_path, fingerprint, load_cached_split


def _spec(**kw):
    base = dict(bandwidth=8, n_items=4, n_train=150, n_val=10, n_test=12)
    return DataSpec(**{**base, **kw})


def _same(a, b):
    return a[0].numpy().tobytes() == b[0].numpy().tobytes() and a[1].numpy().tobytes() == b[1].numpy().tobytes()


def test_same_seed_same_bytes_in_any_order_batching_and_object(synthetic_pools):
    one = SphericalDataset(_spec(), "train", synthetic_pools)
    two = SphericalDataset(_spec(), "train", synthetic_pools)
    indices = [7, 0, 33, 5, 7]
    reference = one.get_batch(indices)
    assert _same(reference, two.get_batch(indices))
    permutation = [4, 2, 0, 3, 1]
    shuffled = two.get_batch([indices[p] for p in permutation])
    assert _same((reference[0][permutation], reference[1][permutation]), shuffled)
    singles = [two[i] for i in indices]
    assert _same(reference, (torch.stack([s[0] for s in singles]), torch.stack([s[1] for s in singles])))
    big = one.get_batch(np.arange(150))  # spans several render chunks
    assert _same(reference, (big[0][indices], big[1][indices]))


def test_different_index_seed_or_split_gives_different_data(synthetic_pools):
    base = SphericalDataset(_spec(), "train", synthetic_pools)
    images = base.get_batch(np.arange(10))[0]
    assert all(not torch.equal(images[i], images[j]) for i in range(10) for j in range(i))
    other_seed = SphericalDataset(_spec(seed=1), "train", synthetic_pools).get_batch(np.arange(10))[0]
    assert not any(torch.equal(images[i], other_seed[i]) for i in range(10))
    test = SphericalDataset(_spec(), "test", synthetic_pools).get_batch(np.arange(10))[0]
    assert not any(torch.equal(images[i], test[i]) for i in range(10))


def test_length_indexing_and_errors(synthetic_pools):
    dataset = SphericalDataset(_spec(), "val", synthetic_pools)
    assert len(dataset) == 10
    image, mask = dataset[-1]
    assert image.shape == (1, 16, 16) and mask.shape == (16, 16)
    assert _same((image[None], mask[None]), dataset.get_batch([9]))
    with pytest.raises(IndexError, match="index 10 is out of range for the val split of 10"):
        dataset[10]
    with pytest.raises(ValueError, match="split='valid'"):
        SphericalDataset(_spec(), "valid", synthetic_pools)


def test_dataloader_batches_are_generated_in_one_call(synthetic_pools, monkeypatch):
    loader = make_dataloader(_spec(), "train", batch_size=16, shuffle=True, seed=0, pools=synthetic_pools)
    calls = []
    original = loader.dataset.generator.get_batch
    monkeypatch.setattr(loader.dataset.generator, "get_batch", lambda idx: calls.append(idx.tolist()) or original(idx))
    batches = list(loader)
    assert [len(c) for c in calls] == [16] * 9 + [6] and [len(b[1]) for b in batches] == [16] * 9 + [6]
    assert sorted(i for c in calls for i in c) == list(range(150)) and calls[0] != list(range(16))  # shuffled
    for indices, (images, masks) in zip(calls, batches):
        assert _same((images, masks), original(indices))
    # the same batches through the default collate function
    plain = DataLoader(loader.dataset, batch_size=16, sampler=[i for c in calls for i in c])
    for (images, masks), (plain_images, plain_masks) in zip(batches, plain):
        assert torch.equal(images, plain_images) and torch.equal(masks, plain_masks)
    assert collate_batch([(torch.zeros(1), torch.tensor(1))])[0].shape == (1, 1)
    assert isinstance(loader.dataset.__getitems__([0, 1]), SampleBatch)


def test_dataloader_workers_generate_the_same_bytes(synthetic_pools):
    spec = _spec(task="cls", n_items=1, n_train=24)
    loader = make_dataloader(spec, "train", batch_size=12, shuffle=False, num_workers=1, pools=synthetic_pools)
    images = torch.cat([b[0] for b in loader])
    assert images.numpy().tobytes() == loader.dataset.get_batch(np.arange(24))[0].numpy().tobytes()


def test_cache_round_trip(tmp_path, synthetic_pools):
    spec = _spec(cache_dir=str(tmp_path))
    fresh = SphericalDataset(spec, "test", synthetic_pools)
    files = list(tmp_path.glob("*.npz"))
    assert len(files) == 1 and files[0].name.startswith("mnist-seg-b8-test-")
    assert not list(tmp_path.glob("*.tmp"))
    generated = SphericalDataset(_spec(), "test", synthetic_pools).get_batch(np.arange(12))
    assert _same(fresh.get_batch(np.arange(12)), generated)
    mtime = files[0].stat().st_mtime_ns
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reread = SphericalDataset(spec, "test", synthetic_pools)
    assert files[0].stat().st_mtime_ns == mtime  # read, not rewritten
    batch = reread.get_batch([3, 1])
    assert batch[1].dtype == torch.int64 and _same(batch, (generated[0][[3, 1]], generated[1][[3, 1]]))
    other = SphericalDataset(_spec(cache_dir=str(tmp_path), seed=5), "test", synthetic_pools)
    assert len(list(tmp_path.glob("*.npz"))) == 2 and not _same(other.get_batch([0]), batch)


def test_corrupt_or_mismatching_cache_is_regenerated_with_a_warning(tmp_path, synthetic_pools):
    spec = _spec(cache_dir=str(tmp_path), task="cls", n_items=1)
    expected = SphericalDataset(spec, "val", synthetic_pools).get_batch(np.arange(10))
    (path,) = tmp_path.glob("*.npz")
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.warns(UserWarning, match=f"{path.name}.*unreadable.*regenerating"):
        dataset = SphericalDataset(spec, "val", synthetic_pools)
    assert _same(dataset.get_batch(np.arange(10)), expected)
    generator = dataset.generator
    np.savez(
        path,
        images=np.zeros((10, 1, 16, 16), np.float32),
        targets=np.zeros(10, np.int64),
        fingerprint=np.array("stale"),
    )
    with pytest.warns(UserWarning, match="fingerprint differs"):
        SphericalDataset(spec, "val", synthetic_pools)
    np.savez(
        path,
        images=np.zeros((9, 1, 16, 16), np.float32),
        targets=np.zeros(10, np.int64),
        fingerprint=np.array(fingerprint(generator, 10)),
    )
    with pytest.warns(UserWarning, match=r"images is float32 \[9, 1, 16, 16\], expected float32 \[10, 1, 16, 16\]"):
        dataset = SphericalDataset(spec, "val", synthetic_pools)
    assert _same(dataset.get_batch(np.arange(10)), expected)
    assert CACHE_VERSION >= 1


def _fds_open_on(path) -> list[str]:
    """File descriptors of this process that point at ``path`` (from ``/proc/self/fd``)."""
    target = os.path.realpath(path)
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.path.realpath(f"/proc/self/fd/{fd}") == target:
                found.append(fd)
        except OSError:
            pass
    return found


@pytest.mark.parametrize("corruption", ["truncated_zip", "npy_not_npz", "garbage", "missing_key"])
def test_rejecting_a_corrupt_cache_leaves_no_open_file(tmp_path, synthetic_pools, corruption):
    spec = _spec(cache_dir=str(tmp_path), task="cls", n_items=1)
    generator = SphericalDataset(spec, "val", synthetic_pools).generator
    digest = fingerprint(generator, 10)
    path = cache_path(tmp_path, generator, digest)
    if corruption == "truncated_zip":  # np.load(path) itself used to leak the handle here (BadZipFile)
        path.write_bytes(path.read_bytes()[:1000])
    elif corruption == "npy_not_npz":  # np.load returns an ndarray, not an archive
        with open(path, "wb") as fh:
            np.save(fh, np.zeros(3))
    elif corruption == "garbage":
        path.write_bytes(b"not a numpy file at all")
    else:
        np.savez(path, images=np.zeros((10, 1, 16, 16), np.float32), fingerprint=np.array(digest))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert load_cached_split(path, generator, 10, digest) is None
        gc.collect()  # a leaked handle is reported as a ResourceWarning when it is collected
    messages = [f"{w.category.__name__}: {w.message}" for w in caught]
    assert not [m for m in messages if m.startswith("ResourceWarning")], messages
    assert [m for m in messages if m.startswith("UserWarning") and "regenerating" in m], messages
    if os.path.isdir("/proc/self/fd"):
        assert _fds_open_on(path) == []
