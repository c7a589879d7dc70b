"""snippets/lr_schedules: per-epoch and per-step schedules, the logged learning rate, parity, command lines."""

from __future__ import annotations

import pytest

from evidence.running.measure import max_abs_difference
from tests.conftest import load_program

TOPIC = "lr_schedules"
KINDS = ["pytorch", "lightning", "fabric"]
SCHEDULES = ["step", "onecycle"]
EPOCHS, STEPS_PER_EPOCH, LR = 3, 13, 0.1  # 409 training samples in batches of 32


@pytest.fixture(scope="module")
def results():
    return {(kind, schedule): load_program(TOPIC, kind).run(epochs=EPOCHS, seed=0, device="cpu", schedule=schedule)
            for schedule in SCHEDULES for kind in KINDS}


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("kind", KINDS)
def test_run_records_one_learning_rate_per_optimizer_step(results, kind, schedule):
    result = results[kind, schedule]
    assert result["steps"] == EPOCHS * STEPS_PER_EPOCH
    assert len(result["lr_trace"]) == result["steps"]
    assert len(result["history"]["val_loss"]) == EPOCHS
    assert result["history"]["val_loss"][-1] < result["history"]["val_loss"][0]


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_traces_and_weights_identical_to_plain_pytorch(results, kind, schedule):
    reference = results["pytorch", schedule]
    assert max_abs_difference(results[kind, schedule]["lr_trace"], reference["lr_trace"]) == 0.0
    assert max_abs_difference(results[kind, schedule]["state_dict"], reference["state_dict"]) == 0.0
    assert max_abs_difference(results[kind, schedule]["history"], reference["history"]) <= 1e-6


def test_step_schedule_halves_the_rate_every_two_epochs(results):
    trace = results["pytorch", "step"]["lr_trace"]
    expected = [LR * 0.5 ** (epoch // 2) for epoch in range(EPOCHS) for _ in range(STEPS_PER_EPOCH)]
    assert trace == pytest.approx(expected, rel=1e-12)


def test_onecycle_schedule_changes_every_step(results):
    trace = results["pytorch", "onecycle"]["lr_trace"]
    assert trace[0] == pytest.approx(LR / 25)  # OneCycleLR's default div_factor
    assert max(trace) == pytest.approx(LR, rel=1e-2)
    assert trace[-1] < trace[0] / 100
    assert len(set(trace)) == len(trace)


def test_lightning_trace_is_what_learning_rate_monitor_logged(monkeypatch):
    """Without the monitor the CSV log holds no learning rate, so the Lightning trace is empty."""
    import pytorch_lightning as pl

    lightning = load_program(TOPIC, "lightning")
    monitored = lightning.run(epochs=1, seed=0, device="cpu", schedule="onecycle")
    monkeypatch.setattr(lightning, "LearningRateMonitor", lambda **kwargs: pl.Callback())
    unmonitored = lightning.run(epochs=1, seed=0, device="cpu", schedule="onecycle")
    assert len(monitored["lr_trace"]) == STEPS_PER_EPOCH
    assert unmonitored["lr_trace"] == []


def test_onecycle_stepped_per_epoch_is_caught(results):
    """The check can fail: OneCycleLR with Lightning's default interval ('epoch') gives another trace."""
    with pytest.warns(RuntimeWarning, match="'interval': 'epoch'"):
        wrong = load_program(TOPIC, "lightning").run(epochs=EPOCHS, seed=0, device="cpu", schedule="onecycle",
                                                     interval="epoch")
    difference = max_abs_difference(wrong["lr_trace"], results["pytorch", "onecycle"]["lr_trace"])
    assert difference > 0.01
    assert len(set(wrong["lr_trace"][:STEPS_PER_EPOCH])) == 1  # one rate for the whole first epoch
    assert max_abs_difference(wrong["state_dict"], results["pytorch", "onecycle"]["state_dict"]) > 0
