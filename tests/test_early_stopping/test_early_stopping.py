"""snippets/early_stopping: the same stopping epoch everywhere, and Lightning's exact EarlyStopping rule.

The programs run at the published configuration (the headline run of runs.toml): the page renders
its statements about the run from the result, and these tests pin the same run.
"""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import EarlyStopping
from torch.utils.data import DataLoader, TensorDataset

from evidence import declared
from evidence.running.measure import max_abs_difference
from evidence.views.topics.early_stopping import replay
from tests.conftest import load_program

TOPIC = "early_stopping"
KINDS = ["pytorch", "lightning", "fabric"]
CONFIG = {**declared.run(TOPIC).params, "device": "cpu"}


@pytest.fixture(scope="module")
def results():
    return {kind: load_program(TOPIC, kind).run(**CONFIG) for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_stops_before_max_epochs(results, kind):
    result = results[kind]
    assert result["stopped_epoch"] == 7
    assert result["epochs_run"] == 8 < CONFIG["epochs"]
    assert result["steps"] == 8 * 13
    assert result["wait_count"] == CONFIG["patience"]


@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_same_stopping_epoch_and_weights_as_plain_pytorch(results, kind):
    for path in ("stopped_epoch", "epochs_run", "wait_count", "state_dict"):
        assert max_abs_difference(results[kind][path], results["pytorch"][path]) == 0.0, path
    assert abs(results[kind]["best_score"] - results["pytorch"]["best_score"]) <= 1e-6


def test_min_delta_decides_the_stop_in_this_configuration(results):
    without = load_program(TOPIC, "pytorch").run(**{**CONFIG, "min_delta": 0.0})
    assert without["stopped_epoch"] > results["pytorch"]["stopped_epoch"]


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
    return trainer.current_epoch - 1 if trainer.should_stop else None


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


def test_lightning_checks_after_the_validation_of_each_epoch(results):
    """The decision uses each epoch's own val_loss, and a lower value that is not lower by more than
    min_delta is not adopted as the new best."""
    history = results["lightning"]["history"]["val_loss"]
    assert results["lightning"]["epochs_run"] == results["lightning"]["stopped_epoch"] + 1 == len(history)
    assert results["lightning"]["best_score"] == pytest.approx(history[4], abs=1e-6)
    assert history[7] < history[4] < history[7] + CONFIG["min_delta"]
    for kind in ("pytorch", "fabric"):
        assert results[kind]["best_score"] == pytest.approx(history[4], abs=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_the_page_replay_of_the_rule_stops_where_the_program_stopped(results, kind):
    checks = replay(results[kind]["history"]["val_loss"], CONFIG["patience"], CONFIG["min_delta"])
    assert [c.epoch for c in checks if c.stop] == [results[kind]["stopped_epoch"]]
    assert checks[-1].wait == results[kind]["wait_count"]


def test_no_decision_in_the_published_run_is_within_rounding_of_its_threshold(results):
    """The page says float32 against float64 comparisons cannot matter here: no loss is that close."""
    checks = replay(results["pytorch"]["history"]["val_loss"], CONFIG["patience"], CONFIG["min_delta"])
    assert min(abs(c.value - c.threshold) for c in checks if c.threshold is not None) > 1e-6
