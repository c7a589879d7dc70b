"""snippets/scheduler_interval: a per-step schedule stepped per step and, the default way, per epoch."""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from torch.optim.lr_scheduler import LRScheduler
from torch.optim.optimizer import register_optimizer_step_post_hook

from evidence import declared
from evidence.running.measure import max_abs_difference
from tests.conftest import load_program, run_program

TOPIC = "scheduler_interval"
KINDS = ["pytorch", "lightning", "fabric"]
INTERVALS = ["step", "epoch"]
PUBLISHED = declared.run(TOPIC).params
"""The headline run's parameters (runs.toml): what the page shows."""
STEPS_PER_EPOCH = 13  # 409 training samples in batches of 32
PEAK = 0.1  # the programs' default lr, the schedule's peak
LIGHTNING = Path(pl.__file__).parent


@contextmanager
def recorded():
    """The rate of every optimizer step, read from the optimizer as it steps, and the scheduler steps."""
    rates, scheduler_steps = [], []
    handle = register_optimizer_step_post_hook(lambda opt, args, kwargs: rates.append(opt.param_groups[0]["lr"]))
    step = LRScheduler.step

    def counted(self, *args, **kwargs):
        scheduler_steps.append(type(self).__name__)
        return step(self, *args, **kwargs)

    LRScheduler.step = counted
    try:
        yield rates, scheduler_steps
    finally:
        LRScheduler.step = step
        handle.remove()


@pytest.fixture(scope="module")
def results():
    found = {}
    for interval in INTERVALS:
        for kind in KINDS:
            with recorded() as (rates, scheduler_steps):
                result = run_program(TOPIC, kind, **{**PUBLISHED, "interval": interval, "device": "cpu"})
            found[kind, interval] = {**result, "rates": rates, "scheduler_steps": len(scheduler_steps) - 1}
    return found  # a scheduler steps once when it is built: not counted


def test_published_configuration_is_the_one_the_page_describes():
    assert PUBLISHED["interval"] == "step" and PUBLISHED["warmup"] == 20
    assert declared.runs(TOPIC)[1].params["interval"] == "epoch"
    assert PUBLISHED["epochs"] < PUBLISHED["warmup"]  # stepped per epoch, the run ends inside the warm-up


@pytest.mark.parametrize("interval", INTERVALS)
@pytest.mark.parametrize("kind", KINDS)
def test_history_keeps_the_rate_each_epoch_starts_with(results, kind, interval):
    result = results[kind, interval]
    epochs = PUBLISHED["epochs"]
    assert result["steps"] == len(result["rates"]) == epochs * STEPS_PER_EPOCH
    assert result["scheduler_steps"] == (result["steps"] if interval == "step" else epochs)
    assert result["history"]["lr"] == pytest.approx(result["rates"][::STEPS_PER_EPOCH], rel=1e-6)
    assert result["history"]["val_loss"][-1] < result["history"]["val_loss"][0]


@pytest.mark.parametrize("interval", INTERVALS)
@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_rates_and_weights_identical_to_plain_pytorch(results, kind, interval):
    reference = results["pytorch", interval]
    assert results[kind, interval]["rates"] == reference["rates"]
    assert max_abs_difference(results[kind, interval]["state_dict"], reference["state_dict"]) == 0.0
    assert max_abs_difference(results[kind, interval]["history"], reference["history"]) <= 1e-6


def test_per_step_schedule_warms_up_then_decays(results):
    trace = results["pytorch", "step"]["rates"]
    warmup, total = PUBLISHED["warmup"], len(trace)
    assert trace[:warmup] == pytest.approx([PEAK * (s + 1) / warmup for s in range(warmup)], rel=1e-12)
    assert max(trace) == pytest.approx(PEAK)
    assert trace[-1] == pytest.approx(PEAK / (total - warmup))
    assert len(set(trace[warmup:])) == total - warmup  # a new rate at every step of the decay


def test_default_interval_is_stepped_once_per_epoch_and_never_leaves_the_warm_up(results):
    """The page's claim: returned without an interval, the per-step schedule advances once per epoch."""
    trace = results["lightning", "epoch"]["rates"]
    warmup = PUBLISHED["warmup"]
    expected = [PEAK * (epoch + 1) / warmup for epoch in range(PUBLISHED["epochs"]) for _ in range(STEPS_PER_EPOCH)]
    assert trace == pytest.approx(expected, rel=1e-12)
    assert max(trace) < PEAK / 4
    default, per_step = results["lightning", "epoch"], results["lightning", "step"]
    assert default["history"]["val_loss"][-1] > 2 * per_step["history"]["val_loss"][-1]
    assert max_abs_difference(default["state_dict"], per_step["state_dict"]) > 1e-2


def test_lightning_records_the_interval_it_was_given():
    program = load_program(TOPIC, "lightning")
    for interval in INTERVALS:
        trainer = pl.Trainer(max_epochs=1, limit_train_batches=1, limit_val_batches=1, accelerator="cpu",
                             logger=False, enable_checkpointing=False, enable_progress_bar=False,
                             enable_model_summary=False)
        loaders = [torch.utils.data.DataLoader(data, batch_size=32) for data in program.make_data(0)]
        trainer.fit(program.Classifier(interval), *loaders)
        assert trainer.lr_scheduler_configs[0].interval == interval


def _lightning_trace(configure, epochs: int = 2) -> tuple[list[float], list]:
    """The rate of every step of a Lightning run whose configure_optimizers is ``configure``, and the warnings."""
    program = load_program(TOPIC, "lightning")

    class Module(program.Classifier):
        def configure_optimizers(self):
            optimizer = torch.optim.SGD(self.parameters(), lr=PEAK, momentum=0.9)
            scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, program.warmup_then_decay(20, 26))
            return configure(optimizer, scheduler)

    train_set, val_set = program.make_data(0)
    module = Module("step", 20, PEAK)
    trainer = pl.Trainer(max_epochs=epochs, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    with warnings.catch_warnings(record=True) as caught, recorded() as (rates, _):
        warnings.simplefilter("always")
        trainer.fit(module, torch.utils.data.DataLoader(train_set, batch_size=32),
                    torch.utils.data.DataLoader(val_set, batch_size=32))
    # a ResourceWarning is the garbage collector reporting a file some earlier test left open,
    # whenever it happens to run: not something this Trainer said
    return rates, [w for w in caught if "treespec" not in str(w.message) and w.category is not ResourceWarning]


@pytest.mark.parametrize("configure", [
    lambda optimizer, scheduler: ([optimizer], [scheduler]),
    lambda optimizer, scheduler: {"optimizer": optimizer, "lr_scheduler": scheduler},
    lambda optimizer, scheduler: {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler}},
], ids=["bare list", "dictionary", "scheduler dictionary without interval"])
def test_every_form_without_an_interval_steps_per_epoch_and_warns_nothing(configure):
    trace, caught = _lightning_trace(configure)
    assert len(set(trace[:STEPS_PER_EPOCH])) == 1 and len(set(trace)) == 2
    assert caught == []


def test_interval_beside_the_scheduler_warns_and_steps_per_epoch():
    trace, caught = _lightning_trace(lambda optimizer, scheduler: {"optimizer": optimizer, "lr_scheduler": scheduler,
                                                                    "interval": "step"})
    assert len(set(trace)) == 2
    assert [type(w.message) for w in caught] == [RuntimeWarning]
    assert "Found unsupported keys in the optimizer configuration: {'interval'}" in str(caught[0].message)


def test_interval_step_inside_the_scheduler_dictionary_steps_every_step():
    """The check can fail: the same helper sees a new rate at every step when the key is in place."""
    trace, caught = _lightning_trace(lambda optimizer, scheduler: {
        "optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}})
    assert len(set(trace[:STEPS_PER_EPOCH])) == STEPS_PER_EPOCH and caught == []


def test_onecycle_is_the_one_scheduler_lightning_warns_about_and_only_in_a_dictionary():
    trace, caught = _lightning_trace(lambda optimizer, scheduler: {"optimizer": optimizer, "lr_scheduler": {
        "scheduler": torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=PEAK, total_steps=26)}})
    assert [type(w.message) for w in caught] == [RuntimeWarning]
    assert "A `OneCycleLR` scheduler is using 'interval': 'epoch'" in str(caught[0].message)
    trace, caught = _lightning_trace(lambda optimizer, scheduler: (
        [optimizer], [torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=PEAK, total_steps=26)]))
    assert caught == [] and len(set(trace)) == 2


@pytest.mark.parametrize("path, line, text", [
    ("utilities/types.py", 86, 'interval: str = "epoch"'),
    ("core/optimizer.py", 290, "config = LRSchedulerConfig(**scheduler)"),
    ("core/optimizer.py", 300, "config = LRSchedulerConfig(scheduler)"),
    ("loops/training_epoch_loop.py", 360, 'self.update_lr_schedulers("step", update_plateau_schedulers=False)'),
    ("loops/training_epoch_loop.py", 362, 'self.update_lr_schedulers("epoch", update_plateau_schedulers=False)'),
    ("loops/training_epoch_loop.py", 458, 'if interval == "step" and self._should_accumulate():'),
])
def test_source_lines_the_page_cites(path, line, text):
    """The page cites these lines of the installed Lightning; they must say what it says they say."""
    assert pl.__version__ == "2.6.6"
    assert (LIGHTNING / path).read_text().splitlines()[line - 1].strip() == text


def test_learning_rate_monitor_writes_on_the_loggers_rhythm_of_50_steps_by_default():
    """The page's note: the logger, and with it LearningRateMonitor, writes every 50 optimizer steps by default."""
    assert pl.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False).log_every_n_steps == 50
