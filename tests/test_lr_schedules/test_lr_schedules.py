"""snippets/lr_schedules: per-epoch and per-step schedules, what LearningRateMonitor logs, parity."""

from __future__ import annotations

import pytest
import torch
from lightning_fabric.utilities.warnings import PossibleUserWarning

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


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_learning_rate_monitor_logs_the_rate_of_every_step(results, schedule):
    """With lr_monitor=True (the page's monitor runs) the CSV log holds one rate per optimizer step, the
    rates the loops recorded; without the monitor the log holds none."""
    lightning = load_program(TOPIC, "lightning")
    monitored = lightning.run(epochs=EPOCHS, seed=0, device="cpu", schedule=schedule, lr_monitor=True)
    assert monitored["monitored_lr"] == results["pytorch", schedule]["lr_trace"]
    assert monitored["lr_trace"] == results["lightning", schedule]["lr_trace"]
    assert max_abs_difference(monitored["state_dict"], results["lightning", schedule]["state_dict"]) == 0.0


def test_without_the_monitor_the_log_holds_no_rate(monkeypatch):
    import pytorch_lightning as pl

    lightning = load_program(TOPIC, "lightning")
    monkeypatch.setattr(lightning, "LearningRateMonitor", lambda **kwargs: pl.Callback())
    assert lightning.run(epochs=1, seed=0, device="cpu", lr_monitor=True)["monitored_lr"] == []


def test_timed_configuration_has_no_logger_and_no_monitor(monkeypatch):
    """Same work on every side: without lr_monitor (the headline's timed rounds) Lightning builds no
    logger and no monitor, and records the rate the way the loops do."""
    lightning = load_program(TOPIC, "lightning")

    def refuse(*args, **kwargs):
        raise AssertionError("built a logger or a monitor in the timed configuration")

    monkeypatch.setattr(lightning, "CSVLogger", refuse)
    monkeypatch.setattr(lightning, "LearningRateMonitor", refuse)
    result = lightning.run(epochs=1, seed=0, device="cpu")
    assert "monitored_lr" not in result and len(result["lr_trace"]) == STEPS_PER_EPOCH


def test_monitor_logs_on_the_loggers_rhythm(monkeypatch):
    """The page's pitfall: with Lightning's default log_every_n_steps (50) the monitor writes one rate
    every 50 optimizer steps, not one per step."""
    import pytorch_lightning as pl

    lightning = load_program(TOPIC, "lightning")
    trainer = pl.Trainer
    monkeypatch.setattr(pl, "Trainer",
                        lambda **kwargs: trainer(**{k: v for k, v in kwargs.items() if k != "log_every_n_steps"}))
    with pytest.warns(PossibleUserWarning, match=r"smaller than the logging interval Trainer\(log_every_n_steps=50\)"):
        result = lightning.run(epochs=8, seed=0, device="cpu", lr_monitor=True)
    assert result["steps"] == 8 * STEPS_PER_EPOCH
    assert len(result["monitored_lr"]) == result["steps"] // 50


def test_learning_rate_monitor_needs_a_logger():
    import pytorch_lightning as pl
    from pytorch_lightning.utilities.exceptions import MisconfigurationException

    lightning = load_program(TOPIC, "lightning")
    module = lightning.Classifier("onecycle", LR, "step")
    train_set, val_set = lightning.make_data(0)
    trainer = pl.Trainer(max_epochs=1, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         callbacks=[lightning.LearningRateMonitor()])
    with pytest.raises(MisconfigurationException, match="no logger"):
        trainer.fit(module, lightning.DataLoader(train_set, batch_size=32),
                    lightning.DataLoader(val_set, batch_size=32))


def test_onecycle_stepped_per_epoch_is_caught(results):
    """The check can fail: OneCycleLR with Lightning's default interval ('epoch') gives another trace."""
    with pytest.warns(RuntimeWarning, match="'interval': 'epoch'"):
        wrong = load_program(TOPIC, "lightning").run(epochs=EPOCHS, seed=0, device="cpu", schedule="onecycle",
                                                     interval="epoch")
    difference = max_abs_difference(wrong["lr_trace"], results["pytorch", "onecycle"]["lr_trace"])
    assert difference > 0.01
    assert len(set(wrong["lr_trace"][:STEPS_PER_EPOCH])) == 1  # one rate for the whole first epoch
    assert max_abs_difference(wrong["state_dict"], results["pytorch", "onecycle"]["state_dict"]) > 0


def test_a_bare_onecycle_scheduler_is_stepped_per_epoch_without_a_warning(monkeypatch, results):
    """The page's pitfall: returned bare (not in a dict), OneCycleLR gets interval 'epoch' and Lightning
    does not warn (the warning is for the dict form only); filterwarnings=error fails on any warning."""
    lightning = load_program(TOPIC, "lightning")

    class Bare(lightning.Classifier):
        def configure_optimizers(self):
            optimizer = torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9)
            scheduler = torch.optim.lr_scheduler.OneCycleLR(
                optimizer, max_lr=self.lr, total_steps=self.trainer.estimated_stepping_batches)
            return [optimizer], [scheduler]

    monkeypatch.setattr(lightning, "Classifier", Bare)
    bare = lightning.run(epochs=EPOCHS, seed=0, device="cpu", schedule="onecycle")
    assert len(set(bare["lr_trace"][:STEPS_PER_EPOCH])) == 1
    assert max_abs_difference(bare["lr_trace"], results["pytorch", "onecycle"]["lr_trace"]) > 0.01
