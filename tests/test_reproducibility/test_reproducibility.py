"""snippets/reproducibility: trained again bitwise equal, what worker seeding changes, and the shared-Generator trap."""

from __future__ import annotations

import multiprocessing

import pytest
import torch

from evidence.running.measure import max_abs_difference
from tests.conftest import run_program

TOPIC = "reproducibility"
KINDS = ["pytorch", "lightning", "fabric"]
BATCHES = 13  # 409 training rows in batches of 32: twelve full batches and one of 25
pytestmark = pytest.mark.skipif(multiprocessing.get_start_method() != "fork",
                                reason="the draws below are those of fork-started workers")


@pytest.fixture(scope="module", autouse=True)
def restore_deterministic_mode():
    before = torch.are_deterministic_algorithms_enabled()
    yield
    torch.use_deterministic_algorithms(before)


def run_all(**options):
    return {kind: run_program(TOPIC, kind, seed=0, device="cpu", **options) for kind in KINDS}


def draws(result) -> list[tuple]:
    """The scale factors of every training batch, as tuples."""
    return [tuple(batch.tolist()) for batch in result["scales"]]


@pytest.fixture(scope="module")
def seeded():
    return run_all(epochs=1)


@pytest.fixture(scope="module")
def unseeded():
    return run_all(epochs=2, seed_workers=False)


@pytest.fixture(scope="module")
def shared():
    return run_all(epochs=2, shared_generator=True)


@pytest.mark.parametrize("kind", KINDS)
def test_trained_again_gives_bitwise_the_same_weights_and_draws(seeded, kind):
    again = run_program(TOPIC, kind, epochs=1, seed=0, device="cpu")
    assert max_abs_difference(again["state_dict"], seeded[kind]["state_dict"]) == 0.0
    assert again["history"] == seeded[kind]["history"] and draws(again) == draws(seeded[kind])
    assert seeded[kind]["steps"] == BATCHES and seeded[kind]["device"] == "cpu"
    assert torch.are_deterministic_algorithms_enabled()


def test_different_seed_gives_different_weights(seeded):
    other = run_program(TOPIC, "pytorch", epochs=1, seed=1, device="cpu")
    assert max_abs_difference(other["state_dict"], seeded["pytorch"]["state_dict"]) > 0


@pytest.mark.parametrize("kind", KINDS)
def test_global_rng_draws_are_distinct_with_and_without_worker_seeding(seeded, unseeded, kind):
    for result in (seeded[kind], unseeded[kind]):
        factors = [f for batch in draws(result) for f in batch]
        assert len(set(factors)) == len(factors) == 409 * len(result["history"]["val_loss"])


def test_lightning_worker_seeding_differs_from_the_manual_recipe_but_matches_fabric(seeded):
    assert max_abs_difference(seeded["lightning"]["state_dict"], seeded["pytorch"]["state_dict"]) > 0
    assert draws(seeded["lightning"]) != draws(seeded["pytorch"])
    assert max_abs_difference(seeded["fabric"]["state_dict"], seeded["lightning"]["state_dict"]) == 0.0
    assert draws(seeded["fabric"]) == draws(seeded["lightning"])


@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_without_worker_seeding_all_implementations_match(unseeded, kind):
    assert max_abs_difference(unseeded[kind]["state_dict"], unseeded["pytorch"]["state_dict"]) == 0.0
    assert max_abs_difference(unseeded[kind]["history"], unseeded["pytorch"]["history"]) <= 1e-6


@pytest.mark.parametrize("kind", KINDS)
def test_generator_stored_on_the_dataset_repeats_across_workers_and_epochs(shared, kind):
    drawn = draws(shared[kind])
    first, second = drawn[:BATCHES], drawn[BATCHES:]
    # two workers take batches in turn, each from the same copy of the Generator: batches 1 and 2,
    # 3 and 4, ... draw the same factors; epoch 2 starts new workers from the same copy again
    assert all(first[b] == first[b + 1] for b in range(0, 12, 2))
    assert second == first
    assert len({f for batch in drawn for f in batch}) < sum(map(len, drawn)) / 3
