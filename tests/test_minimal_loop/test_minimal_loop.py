"""snippets/minimal_loop: each program's run() at the published configuration, and their parity."""

from __future__ import annotations

import pytest

from evidence import declared
from evidence.running.measure import max_abs_difference
from tests.conftest import load_program, run_program

TOPIC = "minimal_loop"
KINDS = ["pytorch", "lightning", "fabric"]
PUBLISHED = declared.run(TOPIC).params
"""The headline run's parameters (runs.toml): what the page shows."""
STEPS_PER_EPOCH = 13  # 409 training samples in batches of 32: twelve full batches and one of 25


@pytest.fixture(scope="module")
def results():
    return {kind: run_program(TOPIC, kind, **PUBLISHED, device="cpu") for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_run_trains_and_validates_on_held_out_data(results, kind):
    result = results[kind]
    epochs = PUBLISHED["epochs"]
    assert len(result["history"]["train_loss"]) == len(result["history"]["val_loss"]) == epochs
    assert result["history"]["val_loss"][-1] < result["history"]["val_loss"][0]
    assert result["steps"] == epochs * STEPS_PER_EPOCH
    assert result["device"] == "cpu"


def test_validation_split_is_held_out():
    module = load_program(TOPIC, "pytorch")
    train, val = module.make_data(seed=0)
    train_rows = {tuple(row.tolist()) for row in train.tensors[0]}
    assert (len(train), len(val)) == (409, 103)
    assert len(train) % 32 != 0  # see "A training set that the batch size divides exactly" (contributing)
    assert not any(tuple(row.tolist()) in train_rows for row in val.tensors[0])


@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_final_weights_identical_to_plain_pytorch(results, kind):
    # Lightning keeps its sanity-check validation (two batches before training) on: it does not
    # touch the weights or the random number generators, so the weights stay identical
    assert max_abs_difference(results[kind]["state_dict"], results["pytorch"]["state_dict"]) == 0.0
    assert max_abs_difference(results[kind]["history"], results["pytorch"]["history"]) <= 1e-6


def test_lightning_runs_the_sanity_check_by_default():
    import pytorch_lightning as pl

    assert pl.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False).num_sanity_val_steps == 2


def test_different_seed_gives_different_weights(results):
    other = run_program(TOPIC, "pytorch", **{**PUBLISHED, "seed": 1}, device="cpu")
    assert max_abs_difference(other["state_dict"], results["pytorch"]["state_dict"]) > 0
