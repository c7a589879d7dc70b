"""snippets/accumulation_edges: short epochs, the last window, the large batch and manual optimization."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, SubsetRandomSampler

from evidence import declared
from evidence.running.measure import max_abs_difference
from tests.conftest import load_program

TOPIC = "accumulation_edges"
KINDS = ["pytorch", "lightning", "fabric"]
RUNS = {run.name: run for run in declared.runs(TOPIC)}
PUBLISHED = RUNS["short_epoch"].params
"""The headline run's parameters (runs.toml): what the page shows."""
LONGER = {**PUBLISHED, **RUNS["window_mean"].params, "divide_by": "n"}
"""The variants' 150 samples, each micro-batch divided by N."""
LIGHTNING = Path(pl.__file__).parent


def run(kind: str, params: dict = PUBLISHED, **changes) -> dict:
    return load_program(TOPIC, kind).run(**{**params, **changes, "device": "cpu"})


@pytest.fixture(scope="module")
def results():
    return {kind: run(kind) for kind in KINDS}


def test_published_configuration_is_the_one_the_page_describes():
    assert declared.run(TOPIC).name == "short_epoch"
    assert (PUBLISHED["train_size"], PUBLISHED["batch_size"], PUBLISHED["accumulate"]) == (40, 16, 4)
    assert LONGER["train_size"] == 150 and RUNS["manual_undivided"].params["train_size"] == 150
    program = load_program(TOPIC, "pytorch")
    assert program.window_samples(40, 16, 4) == [40, 40, 40]  # 16, 16, 8: one window, shorter than N
    assert program.window_samples(150, 16, 4) == [64] * 8 + [22] * 2  # two full windows, then 16 + 6
    assert RUNS["window_mean"].overrides["pytorch"] == {"batch_size": 64, "accumulate": 1, "divide_by": "n"}


@pytest.mark.parametrize("kind", KINDS)
def test_an_epoch_shorter_than_n_steps_once_per_epoch(results, kind):
    result = results[kind]
    epochs = PUBLISHED["epochs"]
    assert result["batches_per_epoch"] == 3
    assert result["steps"] == epochs  # not epochs * 3 // 4, as windows across epochs would give
    assert result["windows"] == [[16, 16, 8]] * epochs
    assert result["history"]["val_loss"][-1] < result["history"]["val_loss"][0]


@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_final_weights_identical_to_plain_pytorch(results, kind):
    assert max_abs_difference(results[kind]["state_dict"], results["pytorch"]["state_dict"]) == 0.0
    assert max_abs_difference(results[kind]["history"], results["pytorch"]["history"]) <= 1e-6


def _fit(module_class, params: dict, **trainer_args) -> tuple:
    """Fit a subclass of the Lightning program's module as run() does; returns it, the trainer and the warnings."""
    program = load_program(TOPIC, "lightning")
    train_set, val_set = program.make_data(0, params["train_size"])
    generator = torch.Generator().manual_seed(0)
    loader = DataLoader(train_set, batch_size=16, generator=generator,
                        sampler=SubsetRandomSampler(range(len(train_set)), generator=generator))
    pl.seed_everything(0, verbose=False)
    module = module_class(0.1, trainer_args.pop("manual", False), 4, "n",
                          program.window_samples(len(train_set), 16, 4))
    trainer = pl.Trainer(max_epochs=params["epochs"], accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, **trainer_args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(module, loader, DataLoader(val_set, batch_size=16))
    return module, trainer, [w for w in caught if "treespec" not in str(w.message)]


def test_lightning_says_nothing_and_its_own_estimate_counts_the_same_steps():
    """#21808: no warning in 2.6.6, and estimated_stepping_batches = ceil(3 / 4) per epoch."""
    program = load_program(TOPIC, "lightning")

    class Probe(program.Classifier):
        def configure_optimizers(self):
            self.estimated = self.trainer.estimated_stepping_batches
            return super().configure_optimizers()

    module, trainer, caught = _fit(Probe, PUBLISHED, accumulate_grad_batches=4)
    assert caught == []
    assert module.estimated == trainer.global_step == PUBLISHED["epochs"]


def test_accumulating_in_windows_equals_the_large_batch_only_when_dividing_by_the_window():
    """The page's window_mean run, and the N-division it replaces."""
    large = run("pytorch", LONGER, batch_size=64, accumulate=1)
    assert [sum(w) for w in large["windows"][:3]] == [64, 64, 22]
    for by_window in (run("fabric", LONGER, divide_by="samples"),
                      run("lightning", LONGER, divide_by="samples", manual=True)):
        assert by_window["steps"] == large["steps"]
        assert max_abs_difference(by_window["state_dict"], large["state_dict"]) <= 1e-6
    by_n = run("lightning", LONGER)
    assert by_n["windows"][2] == [16, 6]
    assert max_abs_difference(by_n["state_dict"], large["state_dict"]) > 1e-3


def test_accumulate_grad_batches_cannot_divide_by_anything_but_n():
    with pytest.raises(ValueError, match="--manual"):
        run("lightning", divide_by="samples")


def test_manual_optimization_dividing_by_n_equals_accumulate_grad_batches():
    automatic = run("lightning", LONGER)
    manual = run("lightning", LONGER, manual=True)
    assert manual["steps"] == automatic["steps"] == 3 * LONGER["epochs"]
    assert max_abs_difference(manual["state_dict"], automatic["state_dict"]) == 0.0


def test_manual_optimization_without_the_division_is_a_different_training():
    """The page's manual_undivided run; the difference is the division and nothing else."""
    undivided = run("lightning", LONGER, manual=True, divide_by="none")
    assert max_abs_difference(undivided["state_dict"], run("pytorch", LONGER)["state_dict"]) > 1e-2
    assert max_abs_difference(undivided["state_dict"], run("pytorch", LONGER, divide_by="none")["state_dict"]) == 0.0


def test_the_guides_condition_without_the_end_of_epoch_step_carries_gradients_over():
    """The manual-optimization guide steps on (batch_idx + 1) % N == 0 only: fewer steps, other weights."""
    program = load_program(TOPIC, "lightning")

    class AsInTheGuide(program.Classifier):
        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = self.loss_fn(self.model(x), y)
            self.log("train_loss", loss, on_step=False, on_epoch=True)
            optimizer = self.optimizers()
            self.manual_backward(loss / self.accumulate)
            if (batch_idx + 1) % self.accumulate == 0:
                optimizer.step()
                optimizer.zero_grad()

    module, trainer, _ = _fit(AsInTheGuide, LONGER, manual=True)
    assert trainer.global_step == 2 * LONGER["epochs"]  # two per epoch: 6 steps, not 9
    assert module.stepped[2] == [16, 6, 16, 16, 16, 16]  # batches 9 and 10 of epoch 1 join epoch 2's first window
    assert module.window == [16, 6]  # and those of the last epoch are never stepped
    reference = run("lightning", LONGER)["state_dict"]
    assert max_abs_difference({k: v.detach() for k, v in module.model.state_dict().items()}, reference) > 1e-3


@pytest.mark.parametrize("path, line, text", [
    ("loops/training_epoch_loop.py", 440, "return self.batch_progress.current.ready % self.trainer.accumulate_grad_batches == 0"),
    ("loops/training_epoch_loop.py", 444, "epoch_finished_on_ready = self.batch_progress.current.ready == self.trainer.num_training_batches"),
    ("loops/training_epoch_loop.py", 454, "return not accumulation_done and strategy_accumulates_on_final_batch"),
    ("loops/optimization/automatic.py", 83, "closure_loss = closure_loss / normalize"),
    ("loops/optimization/automatic.py", 329, "return self.output_result_cls.from_training_step_output(training_step_output, trainer.accumulate_grad_batches)"),
    ("trainer/configuration_validator.py", 128, "if trainer.accumulate_grad_batches != 1:"),
])
def test_source_lines_the_page_cites(path, line, text):
    """The page cites these lines of the installed Lightning; they must say what it says they say."""
    assert pl.__version__ == "2.6.6"
    assert (LIGHTNING / path).read_text().splitlines()[line - 1].strip() == text
