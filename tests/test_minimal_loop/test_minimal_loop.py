"""snippets/minimal_loop: each program's run(), their parity, and each command line."""

from __future__ import annotations

import pytest

from evidence.running.measure import max_abs_difference
from tests.conftest import load_program

TOPIC = "minimal_loop"
KINDS = ["pytorch", "lightning", "fabric"]


@pytest.fixture(scope="module")
def results():
    return {kind: load_program(TOPIC, kind).run(epochs=3, seed=0, device="cpu") for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_run_trains_and_validates_on_held_out_data(results, kind):
    result = results[kind]
    assert len(result["history"]["train_loss"]) == 3
    assert len(result["history"]["val_loss"]) == 3
    assert result["history"]["val_loss"][-1] < result["history"]["val_loss"][0]
    assert result["steps"] == 3 * 13  # 410 training samples in batches of 32
    assert result["device"] == "cpu"


def test_validation_split_is_held_out():
    module = load_program(TOPIC, "pytorch")
    train, val = module.make_data(seed=0)
    train_rows = {tuple(row.tolist()) for row in train.tensors[0]}
    assert (len(train), len(val)) == (409, 103)
    assert not any(tuple(row.tolist()) in train_rows for row in val.tensors[0])


@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_final_weights_identical_to_plain_pytorch(results, kind):
    assert max_abs_difference(results[kind]["state_dict"], results["pytorch"]["state_dict"]) == 0.0
    assert max_abs_difference(results[kind]["history"], results["pytorch"]["history"]) <= 1e-6


def test_different_seed_gives_different_weights(results):
    other = load_program(TOPIC, "pytorch").run(epochs=3, seed=1, device="cpu")
    assert max_abs_difference(other["state_dict"], results["pytorch"]["state_dict"]) > 0
