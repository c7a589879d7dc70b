"""snippets/lr_schedules: per-epoch and per-step schedules, the rate of every step, LearningRateMonitor, parity."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
import pytorch_lightning as pl
import torch
from lightning_fabric.utilities.warnings import PossibleUserWarning
from pytorch_lightning.callbacks import LearningRateMonitor
from pytorch_lightning.loggers import CSVLogger
from pytorch_lightning.utilities.exceptions import MisconfigurationException
from torch.optim.optimizer import register_optimizer_step_post_hook
from torch.utils.data import DataLoader

from evidence import declared
from evidence.running.gather import csv_rows
from evidence.running.measure import max_abs_difference
from tests.conftest import load_program, run_program

TOPIC = "lr_schedules"
KINDS = ["pytorch", "lightning", "fabric"]
SCHEDULES = ["step", "onecycle"]
EPOCHS, STEPS_PER_EPOCH, LR = 3, 13, 0.1  # 409 training samples in batches of 32


@contextmanager
def stepped_rates():
    """The learning rate of every optimizer step, read from the optimizer as it steps."""
    rates = []
    handle = register_optimizer_step_post_hook(lambda opt, args, kwargs: rates.append(opt.param_groups[0]["lr"]))
    try:
        yield rates
    finally:
        handle.remove()


def run_with_rates(kind: str, **params) -> tuple[dict, list]:
    with stepped_rates() as rates:
        result = run_program(TOPIC, kind, **{"epochs": EPOCHS, "seed": 0, "device": "cpu", **params})
    return result, rates


@pytest.fixture(scope="module")
def results():
    return {(kind, schedule): run_with_rates(kind, schedule=schedule) for schedule in SCHEDULES for kind in KINDS}


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("kind", KINDS)
def test_history_keeps_the_rate_each_epoch_starts_with(results, kind, schedule):
    result, rates = results[kind, schedule]
    assert result["steps"] == len(rates) == EPOCHS * STEPS_PER_EPOCH
    assert result["history"]["lr"] == pytest.approx(rates[::STEPS_PER_EPOCH], rel=1e-6)
    assert result["history"]["val_loss"][-1] < result["history"]["val_loss"][0]


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_rates_and_weights_identical_to_plain_pytorch(results, kind, schedule):
    (result, rates), (reference, reference_rates) = results[kind, schedule], results["pytorch", schedule]
    assert rates == reference_rates
    assert max_abs_difference(result["state_dict"], reference["state_dict"]) == 0.0
    assert max_abs_difference(result["history"], reference["history"]) <= 1e-6


def test_step_schedule_halves_the_rate_every_two_epochs(results):
    _, rates = results["pytorch", "step"]
    expected = [LR * 0.5 ** (epoch // 2) for epoch in range(EPOCHS) for _ in range(STEPS_PER_EPOCH)]
    assert rates == pytest.approx(expected, rel=1e-12)


def test_onecycle_schedule_changes_every_step(results):
    _, rates = results["pytorch", "onecycle"]
    assert rates[0] == pytest.approx(LR / 25)  # OneCycleLR's default div_factor
    assert max(rates) == pytest.approx(LR, rel=1e-2)
    assert rates.index(max(rates)) == pytest.approx(0.3 * len(rates), abs=1)  # default pct_start
    assert rates[-1] < rates[0] / 100
    assert len(set(rates)) == len(rates)


def test_checks_expect_what_the_runs_declare():
    runs = {run.name: run for run in declared.runs(TOPIC)}
    assert runs["step"].params["schedule"] == "step" and runs["step"].params["epochs"] == 8
    assert runs["onecycle"].params["schedule"] == "onecycle"


def fit(module: pl.LightningModule, epochs: int = EPOCHS, **trainer_args) -> pl.Trainer:
    program = load_program(TOPIC, "lightning")
    train_set, val_set = program.make_data(0)
    pl.seed_everything(0, verbose=False)
    trainer = pl.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, **trainer_args)
    loader = DataLoader(train_set, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0))
    trainer.fit(module, loader, DataLoader(val_set, batch_size=32))
    return trainer


def monitored(tmp_path, schedule: str, epochs: int = EPOCHS, **trainer_args) -> tuple[list, list]:
    """The rates LearningRateMonitor wrote to a CSV log, and those the optimizer stepped with."""
    module = load_program(TOPIC, "lightning").Classifier(schedule, LR)
    logger = CSVLogger(tmp_path, name="lr", version=0)
    with stepped_rates() as rates:
        fit(module, epochs, logger=logger, callbacks=[LearningRateMonitor(logging_interval="step")], **trainer_args)
    rows = csv_rows(str(tmp_path / "lr" / "version_0" / "metrics.csv"))
    return [row["lr-SGD"] for row in sorted(rows, key=lambda row: row["step"]) if "lr-SGD" in row], rates


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_learning_rate_monitor_logs_the_rate_of_every_step(tmp_path, schedule):
    logged, rates = monitored(tmp_path, schedule, log_every_n_steps=1)
    assert len(logged) == len(rates) == EPOCHS * STEPS_PER_EPOCH
    assert logged == pytest.approx(rates, rel=1e-6)


def test_monitor_logs_on_the_loggers_rhythm(tmp_path):
    """With Lightning's default log_every_n_steps (50) the monitor writes one rate every 50 steps."""
    with pytest.warns(PossibleUserWarning, match=r"smaller than the logging interval Trainer\(log_every_n_steps=50\)"):
        logged, rates = monitored(tmp_path, "onecycle", epochs=8)
    assert len(rates) == 8 * STEPS_PER_EPOCH
    assert len(logged) == len(rates) // 50


def test_learning_rate_monitor_needs_a_logger():
    module = load_program(TOPIC, "lightning").Classifier("onecycle", LR)
    with pytest.raises(MisconfigurationException, match="no logger"):
        fit(module, logger=False, callbacks=[LearningRateMonitor()])


def wrong_interval(monkeypatch, configure) -> tuple[dict, list]:
    """The Lightning program with another configure_optimizers."""
    lightning = load_program(TOPIC, "lightning")
    monkeypatch.setattr(lightning, "Classifier", type("Wrong", (lightning.Classifier,),
                                                      {"configure_optimizers": configure}))
    return run_with_rates("lightning", schedule="onecycle")


def onecycle(module):
    optimizer = torch.optim.SGD(module.parameters(), lr=module.lr, momentum=0.9)
    return optimizer, torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=module.lr, total_steps=module.trainer.estimated_stepping_batches)


def test_onecycle_in_a_scheduler_dictionary_without_interval_is_stepped_per_epoch_with_a_warning(monkeypatch,
                                                                                                 results):
    def configure(self):
        optimizer, scheduler = onecycle(self)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler}}

    with pytest.warns(RuntimeWarning, match="'interval': 'epoch'"):
        wrong, rates = wrong_interval(monkeypatch, configure)
    reference, reference_rates = results["pytorch", "onecycle"]
    assert len(set(rates[:STEPS_PER_EPOCH])) == 1  # one rate for the whole first epoch
    assert max_abs_difference(rates, reference_rates) > 0.01
    assert max_abs_difference(wrong["state_dict"], reference["state_dict"]) > 0


@pytest.mark.parametrize("form", ["list", "dict"])
def test_a_bare_onecycle_scheduler_is_stepped_per_epoch_without_a_warning(monkeypatch, results, form):
    """Returned bare (in a list, or as the optimizer dictionary's "lr_scheduler"), OneCycleLR gets
    interval 'epoch' and Lightning does not warn; filterwarnings=error fails on any warning."""
    def configure(self):
        optimizer, scheduler = onecycle(self)
        return ([optimizer], [scheduler]) if form == "list" else {"optimizer": optimizer, "lr_scheduler": scheduler}

    wrong, rates = wrong_interval(monkeypatch, configure)
    reference, reference_rates = results["pytorch", "onecycle"]
    assert len(set(rates[:STEPS_PER_EPOCH])) == 1
    assert max_abs_difference(rates, reference_rates) > 0.01
    assert max_abs_difference(wrong["state_dict"], reference["state_dict"]) > 0
