"""snippets/grad_accumulation: accumulated steps, the last window, equivalence to a large batch, command lines."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, RandomSampler, SubsetRandomSampler

from evidence.running.measure import max_abs_difference
from tests.conftest import load_program, run_program

TOPIC = "grad_accumulation"
KINDS = ["pytorch", "lightning", "fabric"]
EPOCHS = 2  # 480 training samples: 30 micro-batches of 16 per epoch


def run(kind: str, **params) -> dict:
    return run_program(TOPIC, kind, **{"epochs": EPOCHS, "seed": 0, "device": "cpu", **params})


@pytest.fixture(scope="module")
def results():
    return {kind: run(kind, batch_size=16, accumulate=4) for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_one_step_per_window_and_one_for_the_last_incomplete_window(results, kind):
    result = results[kind]
    assert result["steps"] == EPOCHS * 8  # 30 micro-batches: 7 windows of 4, then one of 2
    assert len(result["history"]["val_loss"]) == EPOCHS
    assert result["history"]["val_loss"][-1] < result["history"]["val_loss"][0]


@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_final_weights_identical_to_plain_pytorch(results, kind):
    assert max_abs_difference(results[kind]["state_dict"], results["pytorch"]["state_dict"]) == 0.0
    assert max_abs_difference(results[kind]["history"], results["pytorch"]["history"]) <= 1e-6


@pytest.mark.parametrize("kind", KINDS)
def test_complete_windows_equal_one_large_batch(kind):
    accumulated = run(kind, batch_size=16, accumulate=5)
    large = run(kind, batch_size=80, accumulate=1)
    assert accumulated["steps"] == large["steps"] == EPOCHS * 6
    assert max_abs_difference(accumulated["state_dict"], large["state_dict"]) <= 1e-5
    assert max_abs_difference(accumulated["history"], large["history"]) <= 1e-5  # the page's check


def test_incomplete_last_window_is_not_the_large_batch(results):
    """The known difference the page shows: the last window of 2 is divided by 4, not by 2."""
    large = run("pytorch", batch_size=64, accumulate=1)
    assert large["steps"] == results["pytorch"]["steps"]
    assert max_abs_difference(results["pytorch"]["state_dict"], large["state_dict"]) > 1e-3
    assert max_abs_difference(results["pytorch"]["history"], large["history"]) > 1e-3  # the page's check


def test_accumulation_changes_the_result(results):
    """The parity check can fail: without accumulation the same micro-batches give other weights."""
    plain = run("pytorch", batch_size=16, accumulate=1)
    assert plain["steps"] == EPOCHS * 30
    assert max_abs_difference(plain["state_dict"], results["lightning"]["state_dict"]) > 1e-3


def _second_epoch_order(sampler, stop_at_last_batch: bool) -> list[int]:
    loader = DataLoader(list(range(32)), batch_size=8, sampler=sampler)
    iterator = iter(loader)
    for _ in range(len(loader)):
        next(iterator)
    if not stop_at_last_batch:
        with pytest.raises(StopIteration):
            next(iterator)  # what a `for` loop does after the last batch
    return [int(i) for batch in loader for i in batch]


@pytest.mark.parametrize("make_sampler, depends_on_the_end", [
    (lambda g: RandomSampler(range(32), generator=g), True),
    (lambda g: SubsetRandomSampler(range(32), generator=g), False),
])
def test_why_the_programs_use_subset_random_sampler(make_sampler, depends_on_the_end):
    """The page's claim: with evenly divisible data, RandomSampler's next-epoch order depends on
    whether the loop asked for one more batch; SubsetRandomSampler's does not."""
    stopped = _second_epoch_order(make_sampler(torch.Generator().manual_seed(0)), stop_at_last_batch=True)
    exhausted = _second_epoch_order(make_sampler(torch.Generator().manual_seed(0)), stop_at_last_batch=False)
    assert (stopped != exhausted) is depends_on_the_end


def test_published_configuration_is_the_one_the_page_describes():
    """The page's intro: 600 samples, 480 for training, in micro-batches of 16 (the headline run's)."""
    from evidence import declared

    params = declared.run(TOPIC).params
    train_set, val_set = load_program(TOPIC, "pytorch").make_data(params["seed"])
    assert (len(train_set), len(val_set), params["batch_size"]) == (480, 120, 16)
    assert len(train_set) % params["batch_size"] == 0
