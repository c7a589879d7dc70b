"""snippets/reproducibility: two runs bitwise equal, what worker seeding changes, and the shared-Generator trap."""

from __future__ import annotations

import multiprocessing

import pytest
import torch

from evidence.running.measure import max_abs_difference
from tests.conftest import load_program

TOPIC = "reproducibility"
KINDS = ["pytorch", "lightning", "fabric"]
pytestmark = pytest.mark.skipif(multiprocessing.get_start_method() != "fork",
                                reason="the draw counts below are those of fork-started workers")


@pytest.fixture(scope="module", autouse=True)
def restore_deterministic_mode():
    before = torch.are_deterministic_algorithms_enabled()
    yield
    torch.use_deterministic_algorithms(before)


def run_all(**options):
    return {kind: load_program(TOPIC, kind).run(seed=0, device="cpu", **options) for kind in KINDS}


@pytest.fixture(scope="module")
def seeded():
    return run_all(epochs=1, runs=2)


@pytest.fixture(scope="module")
def unseeded():
    return run_all(epochs=1, runs=1, seed_workers=False)


@pytest.fixture(scope="module")
def shared():
    return run_all(epochs=2, runs=1, shared_generator=True)


@pytest.mark.parametrize("kind", KINDS)
def test_two_runs_are_bitwise_identical(seeded, kind):
    result = seeded[kind]
    assert result["run_difference"] == 0.0
    assert len(result["weight_digests"]) == 2 and len(set(result["weight_digests"])) == 1
    assert result["steps"] == 13 and result["device"] == "cpu"
    assert torch.are_deterministic_algorithms_enabled()


def test_different_seed_gives_different_weights(seeded):
    other = load_program(TOPIC, "pytorch").run(epochs=1, seed=1, device="cpu", runs=1)
    assert other["weight_digests"][0] != seeded["pytorch"]["weight_digests"][0]
    assert max_abs_difference(other["state_dict"], seeded["pytorch"]["state_dict"]) > 0


@pytest.mark.parametrize("kind", KINDS)
def test_global_rng_draws_are_distinct_with_and_without_worker_seeding(seeded, unseeded, kind):
    for result in (seeded[kind], unseeded[kind]):
        assert result["distinct_draws"] == result["total_draws"] == 409
        assert result["batches_with_a_twin"] == 0


def test_lightning_worker_seeding_differs_from_the_manual_recipe_but_matches_fabric(seeded):
    assert max_abs_difference(seeded["lightning"]["state_dict"], seeded["pytorch"]["state_dict"]) > 0
    assert max_abs_difference(seeded["fabric"]["state_dict"], seeded["lightning"]["state_dict"]) == 0.0
    assert seeded["fabric"]["weight_digests"] == seeded["lightning"]["weight_digests"]


@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_without_worker_seeding_all_implementations_match(unseeded, kind):
    assert max_abs_difference(unseeded[kind]["state_dict"], unseeded["pytorch"]["state_dict"]) == 0.0
    assert max_abs_difference(unseeded[kind]["history"], unseeded["pytorch"]["history"]) <= 1e-6


@pytest.mark.parametrize("kind", KINDS)
def test_generator_stored_on_the_dataset_repeats_across_workers_and_epochs(shared, kind):
    result = shared[kind]
    # 13 batches per epoch: workers 0 and 1 draw the same values for batches 1-12; batch 13 has no twin
    assert result["batches_with_a_twin"] == 2 * 12
    assert result["epochs_repeating_epoch_1"] == 1
    assert result["distinct_draws"] < result["total_draws"] / 3
    first = result["first_batches"][0]
    assert first[0] == first[1] and first[2] == first[3]
    assert result["twin_batches_epoch_1"] == [[b, b + 1] for b in range(1, 12, 2)]
    assert result["epochs"] == 2
