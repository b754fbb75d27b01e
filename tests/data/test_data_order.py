"""The training order: a per-epoch permutation that is a function of (seed, epoch), resumable mid-epoch."""

import itertools

import pytest
import torch

from eqaug.data import DataSpec, make_dataloader
from eqaug.data.order import EpochShuffleSampler, ResumableDataLoader

N, BATCH = 50, 8  # 7 batches per epoch, the last one partial


def _loader(seed: int = 0, workers: int = 0) -> ResumableDataLoader:
    return ResumableDataLoader(
        torch.arange(N), batch_size=BATCH, sampler=EpochShuffleSampler(N, seed), num_workers=workers
    )


def _epoch(loader: ResumableDataLoader, epoch: int) -> list[list[int]]:
    loader.sampler.set_epoch(epoch)
    return [b.tolist() for b in loader]


def test_permutation_is_a_function_of_seed_and_epoch():
    a, b = EpochShuffleSampler(N, 3), EpochShuffleSampler(N, 3)
    for e in (0, 1, 2):
        a.set_epoch(e)
        list(a)
    b.set_epoch(2)  # jumps straight to epoch 2: the same order as after running epochs 0 and 1
    assert list(a) == list(b) == b.permutation(2).tolist()
    assert sorted(b) == list(range(N))
    orders = {tuple(EpochShuffleSampler(N, s).permutation(e).tolist()) for s in (0, 1) for e in (0, 1)}
    assert len(orders) == 4  # different seeds and different epochs give different orders


@pytest.mark.parametrize("workers", [0, 1])
@pytest.mark.parametrize("cut", [0, 3, 6, 7])  # batches handed out before the checkpoint (7: end of epoch)
def test_loader_resumes_where_the_checkpoint_was_written(cut, workers):
    reference = _loader()
    epochs = [_epoch(reference, e) for e in range(3)]

    before = _loader(workers=workers)
    before.sampler.set_epoch(1)
    seen = [b.tolist() for b in itertools.islice(before, cut)]
    state = before.state_dict()
    assert state == {"epoch": 1, "batches": cut}

    after = _loader(workers=workers)
    after.load_state_dict(state)
    if cut == 7:  # the epoch had ended: the resumed run starts the next one
        assert after.sampler.epoch == 2 and _epoch(after, 2) == epochs[2]
        return
    after.sampler.set_epoch(1)  # Lightning calls this again for the restored epoch: no effect
    rest = [b.tolist() for b in after]
    assert seen + rest == epochs[1]
    assert after.state_dict() == {"epoch": 1, "batches": 7}
    assert _epoch(after, 2) == epochs[2]  # and the following epoch is whole


def test_make_dataloader_shuffles_resumably_and_keeps_order_for_eval(synthetic_pools):
    spec = DataSpec(bandwidth=8, n_train=40, n_val=10, n_test=10)
    train = make_dataloader(spec, "train", batch_size=8, seed=5, pools=synthetic_pools)
    assert isinstance(train.sampler, EpochShuffleSampler) and train.sampler.seed == 5
    assert train.state_dict() == {"epoch": 0, "batches": 0}
    val = make_dataloader(spec, "val", batch_size=8, pools=synthetic_pools)
    assert val.state_dict() == {}  # not shuffled: nothing to resume
    val.load_state_dict({})


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="seed must be a non-negative integer, got -1"):
        EpochShuffleSampler(10, -1)
    with pytest.raises(ValueError, match="epoch must be in"):
        EpochShuffleSampler(10, 0).set_epoch(-1)
