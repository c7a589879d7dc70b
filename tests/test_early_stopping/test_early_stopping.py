"""snippets/early_stopping: the same stopping epoch everywhere, and Lightning's exact EarlyStopping rule.

The programs run at the published configuration (the headline run of runs.toml); the outcome the
page's declared checks expect (stop after epoch 7, best score from epoch 4, epoch 7 lower but within
min_delta) is pinned here on the same run.
"""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import EarlyStopping
from torch.utils.data import DataLoader, TensorDataset

from evidence import declared
from evidence.running.measure import max_abs_difference
from tests.conftest import load_program, run_program

TOPIC = "early_stopping"
KINDS = ["pytorch", "lightning", "fabric"]
CONFIG = {**declared.run(TOPIC).params, "device": "cpu"}
STEPS_PER_EPOCH = 13  # 409 training samples in batches of 32


@pytest.fixture(scope="module")
def results():
    return {kind: run_program(TOPIC, kind, **CONFIG) for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_stops_before_max_epochs(results, kind):
    result = results[kind]
    assert result["stopped_epoch"] == 7
    assert len(result["history"]["val_loss"]) == 8 < CONFIG["epochs"]
    assert result["steps"] == 8 * STEPS_PER_EPOCH


@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_same_stopping_epoch_and_weights_as_plain_pytorch(results, kind):
    assert results[kind]["stopped_epoch"] == results["pytorch"]["stopped_epoch"]
    assert max_abs_difference(results[kind]["state_dict"], results["pytorch"]["state_dict"]) == 0.0
    assert max_abs_difference(results[kind]["history"]["val_loss"], results["pytorch"]["history"]["val_loss"]) <= 1e-6
    assert results[kind]["best_score"] == pytest.approx(results["pytorch"]["best_score"], abs=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_epoch_7_is_lower_than_the_best_but_within_min_delta(results, kind):
    """Epoch 4 set the best score; epoch 7 came lower, by no more than min_delta, and was not adopted."""
    history = results[kind]["history"]["val_loss"]
    assert results[kind]["best_score"] == pytest.approx(history[4], abs=1e-6)
    assert history[7] < history[4] < history[7] + CONFIG["min_delta"]
    assert min(history[5:8]) == history[7]


@pytest.mark.parametrize("kind", KINDS)
def test_without_min_delta_epoch_7_is_adopted_and_training_goes_on(results, kind):
    without = run_program(TOPIC, kind, "no_min_delta", **{**CONFIG, "min_delta": 0.0})
    assert without["stopped_epoch"] > results[kind]["stopped_epoch"]
    assert without["best_score"] == pytest.approx(results[kind]["history"]["val_loss"][7], abs=1e-6)


class Scripted(pl.LightningModule):
    """Reports a scripted validation value per epoch, to drive the real EarlyStopping callback."""

    def __init__(self, values):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.values = values

    def training_step(self, batch, batch_idx):
        return (self.weight * batch[0]).sum()

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", torch.tensor(self.values[self.current_epoch]))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)


def lightning_stop(values, patience, min_delta):
    loader = DataLoader(TensorDataset(torch.ones(1, 1)), batch_size=1)
    callback = EarlyStopping(monitor="val_loss", mode="min", patience=patience, min_delta=min_delta)
    trainer = pl.Trainer(max_epochs=len(values), accelerator="cpu", devices=1, callbacks=[callback], logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         num_sanity_val_steps=0)
    trainer.fit(Scripted(values), loader, loader)
    return callback.stopped_epoch if trainer.should_stop else None


def by_hand_stop(kind, values, patience, min_delta):
    stopper = load_program(TOPIC, kind).EarlyStopper(patience, min_delta)
    return next((epoch for epoch, value in enumerate(values) if stopper.should_stop(value)), None)


# values exactly representable in float32, so that the boundary cases are exact
RULES = [
    # an improvement of exactly min_delta does not count: strictly more than min_delta is needed
    ([1.0, 0.75, 0.75, 0.5, 0.5, 0.5], 2, 0.25, 2),
    # compared with the best so far, not the previous value: small steps add up to an improvement
    ([1.0, 0.875, 0.75, 0.625, 0.5, 0.375], 3, 0.1875, None),
    # patience counts checks without improvement; an improvement resets it
    ([1.0, 2.0, 2.0, 0.5, 2.0, 2.0, 2.0], 3, 0.0, 6),
    # equal to the best is not an improvement, even with min_delta = 0
    ([1.0, 1.0, 1.0], 2, 0.0, 2),
]


@pytest.mark.parametrize("values, patience, min_delta, expected", RULES)
def test_lightning_rule_is_pinned_and_matched_by_hand(values, patience, min_delta, expected):
    assert lightning_stop(values, patience, min_delta) == expected
    assert by_hand_stop("pytorch", values, patience, min_delta) == expected
    assert by_hand_stop("fabric", values, patience, min_delta) == expected


def test_the_rule_cases_tell_rules_apart():
    """The cases above would fail a `<=` rule or a comparison with the previous epoch."""
    def loose(values, patience, min_delta):
        best, wait = float("inf"), 0
        for epoch, value in enumerate(values):
            if value + min_delta <= best:
                best, wait = value, 0
            else:
                wait += 1
                if wait >= patience:
                    return epoch
        return None

    def previous(values, patience, min_delta):
        last, wait = float("inf"), 0
        for epoch, value in enumerate(values):
            wait = 0 if value + min_delta < last else wait + 1
            last = value
            if wait >= patience:
                return epoch
        return None

    assert loose(*RULES[0][:3]) != RULES[0][3]
    assert previous(*RULES[1][:3]) != RULES[1][3]


def test_lightning_stopped_epoch_is_zero_when_training_did_not_stop():
    """The page's pitfall: Lightning's stopped_epoch does not tell "never stopped" from "stopped at 0"."""
    values = [1.0, 0.5, 0.25]
    loader = DataLoader(TensorDataset(torch.ones(1, 1)), batch_size=1)
    callback = EarlyStopping(monitor="val_loss", mode="min", patience=2)
    trainer = pl.Trainer(max_epochs=len(values), accelerator="cpu", devices=1, callbacks=[callback], logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         num_sanity_val_steps=0)
    trainer.fit(Scripted(values), loader, loader)
    assert not trainer.should_stop and callback.stopped_epoch == 0
