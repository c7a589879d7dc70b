"""snippets/accumulation_edges: short epochs, the last window, the large batch and manual optimization."""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities.exceptions import MisconfigurationException
from torch import nn
from torch.nn.modules.module import register_module_forward_pre_hook
from torch.optim.optimizer import register_optimizer_step_post_hook
from torch.utils.data import DataLoader, SubsetRandomSampler

from evidence import declared
from evidence.running.measure import max_abs_difference
from tests.conftest import load_program, run_program

TOPIC = "accumulation_edges"
KINDS = ["pytorch", "lightning", "fabric"]
RUNS = {run.name: run for run in declared.runs(TOPIC)}
PUBLISHED = RUNS["short_epoch"].params
"""The headline run's parameters (runs.toml): what the page shows."""
LONGER = {**PUBLISHED, **RUNS["by_n"].params}
"""The variants' 150 samples, each micro-batch divided by N."""
LIGHTNING = Path(pl.__file__).parent


@contextmanager
def recorded_windows():
    """The sizes of the training micro-batches behind every optimizer step (the network's forward
    passes in train mode with gradients), and those still waiting for a step at the end."""
    steps, pending = [], []

    def forward(module, args):
        if isinstance(module, nn.Sequential) and module.training and torch.is_grad_enabled():
            pending.append(len(args[0]))

    def step(optimizer, args, kwargs):
        steps.append(list(pending))
        pending.clear()

    handles = [register_module_forward_pre_hook(forward), register_optimizer_step_post_hook(step)]
    try:
        yield steps, pending
    finally:
        for handle in handles:
            handle.remove()


def run(kind: str, params: dict = PUBLISHED, **changes) -> dict:
    with recorded_windows() as (steps, _):
        result = run_program(TOPIC, kind, **{**params, **changes, "device": "cpu"})
    return {**result, "windows": steps}


@pytest.fixture(scope="module")
def results():
    return {kind: run(kind) for kind in KINDS}


def test_published_configuration_is_the_one_the_page_describes():
    assert declared.run(TOPIC).name == "short_epoch"
    assert (PUBLISHED["train_size"], PUBLISHED["batch_size"], PUBLISHED["accumulate"]) == (40, 16, 4)
    assert all(RUNS[name].params["train_size"] == 150 for name in ("batch64", "by_n", "by_window", "undivided"))
    assert RUNS["batch64"].params["batch_size"] == 64 and RUNS["batch64"].params["accumulate"] == 1
    program = load_program(TOPIC, "pytorch")
    assert program.window_samples(40, 16, 4) == [40, 40, 40]  # 16, 16, 8: one window, shorter than N
    assert program.window_samples(150, 16, 4) == [64] * 8 + [22] * 2  # two full windows, then 16 + 6


def sample_weights(size: int, window: int, divide_by: str) -> Fraction:
    """The weight one sample of a micro-batch has in the step's gradient, measured through autograd."""
    program = load_program(TOPIC, "pytorch")
    per_sample = torch.ones(size, dtype=torch.float64, requires_grad=True)
    program.scaled(per_sample.mean(), size, window, 4, divide_by).backward()
    assert len(set(per_sample.grad.tolist())) == 1
    return Fraction(per_sample.grad[0].item()).limit_denominator(1000)


@pytest.mark.parametrize("size, window, divide_by, weight", [
    (16, 40, "n", Fraction(1, 64)), (8, 40, "n", Fraction(1, 32)),  # the headline's epoch: total 3/4
    (16, 64, "n", Fraction(1, 64)), (6, 22, "n", Fraction(1, 24)),
    (16, 64, "samples", Fraction(1, 64)), (16, 22, "samples", Fraction(1, 22)), (6, 22, "samples", Fraction(1, 22)),
    (16, 64, "none", Fraction(1, 16)), (6, 22, "none", Fraction(1, 6)),
])
def test_the_sample_weights_the_page_gives(size, window, divide_by, weight):
    assert sample_weights(size, window, divide_by) == weight


@pytest.mark.parametrize("kind", KINDS)
def test_an_epoch_shorter_than_n_steps_once_per_epoch(results, kind):
    result = results[kind]
    epochs = PUBLISHED["epochs"]
    assert result["steps"] == epochs  # not epochs * 3 // 4, as windows across epochs would give
    assert result["windows"] == [[16, 16, 8]] * epochs
    assert result["history"]["val_loss"][-1] < result["history"]["val_loss"][0]


@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_final_weights_identical_to_plain_pytorch(results, kind):
    assert max_abs_difference(results[kind]["state_dict"], results["pytorch"]["state_dict"]) == 0.0
    assert max_abs_difference(results[kind]["history"], results["pytorch"]["history"]) <= 1e-6


def _fit(module, params: dict, validate: bool = True, **trainer_args) -> tuple:
    """Fit a module of the Lightning program as run() does (without its validation loader when not ``validate``);
    returns the trainer, the windows and the warnings."""
    program = load_program(TOPIC, "lightning")
    train_set, val_set = program.make_data(0, params["train_size"])
    generator = torch.Generator().manual_seed(0)
    loader = DataLoader(train_set, batch_size=16, generator=generator,
                        sampler=SubsetRandomSampler(range(len(train_set)), generator=generator))
    trainer = pl.Trainer(max_epochs=params["epochs"], accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, **trainer_args)
    with warnings.catch_warnings(record=True) as caught, recorded_windows() as (steps, pending):
        warnings.simplefilter("always")
        trainer.fit(module, loader, DataLoader(val_set, batch_size=16) if validate else None)
    return trainer, steps, pending, [w for w in caught if "treespec" not in str(w.message)]


def module(params: dict, divide_by: str = "n", manual: bool = False, cls=None):
    program = load_program(TOPIC, "lightning")
    pl.seed_everything(0, verbose=False)
    made = (cls or program.Classifier)(4, divide_by, program.window_samples(params["train_size"], 16, 4))
    made.automatic_optimization = not manual and divide_by == "n"
    return made


def test_lightning_says_nothing_and_its_own_estimate_counts_the_same_steps():
    """#21808: no warning in 2.6.6, and estimated_stepping_batches = ceil(3 / 4) per epoch."""
    program = load_program(TOPIC, "lightning")

    class Probe(program.Classifier):
        def configure_optimizers(self):
            self.estimated = self.trainer.estimated_stepping_batches
            return super().configure_optimizers()

    probe = module(PUBLISHED, cls=Probe)
    trainer, _, _, caught = _fit(probe, PUBLISHED, accumulate_grad_batches=4)
    assert caught == []
    assert probe.estimated == trainer.global_step == PUBLISHED["epochs"]


@pytest.mark.parametrize("kind", KINDS)
def test_dividing_by_the_window_equals_the_large_batch_and_dividing_by_n_does_not(kind):
    """The page's by_window, by_n and batch64 runs, on the weights."""
    large = run(kind, LONGER, batch_size=64, accumulate=1)
    assert [sum(w) for w in large["windows"][:3]] == [64, 64, 22]
    by_window, by_n = run(kind, LONGER, divide_by="samples"), run(kind, LONGER)
    assert by_n["windows"][2] == [16, 6]
    assert by_window["steps"] == by_n["steps"] == large["steps"] == 3 * LONGER["epochs"]
    assert max_abs_difference(by_window["state_dict"], large["state_dict"]) <= 1e-6
    assert max_abs_difference(by_n["state_dict"], large["state_dict"]) > 1e-3


def test_manual_optimization_refuses_accumulate_grad_batches():
    with pytest.raises(MisconfigurationException, match="accumulate_grad_batches"):
        _fit(module(LONGER, manual=True), LONGER, accumulate_grad_batches=4)


def test_manual_optimization_dividing_by_n_equals_accumulate_grad_batches():
    automatic, automatic_steps, _, _ = _fit(module(LONGER), LONGER, accumulate_grad_batches=4)
    manual_module = module(LONGER, manual=True)
    manual, manual_steps, _, _ = _fit(manual_module, LONGER)
    assert manual.global_step == automatic.global_step == 3 * LONGER["epochs"]
    assert manual_steps == automatic_steps
    automatic_weights = automatic.lightning_module.model.state_dict()
    assert max_abs_difference(manual_module.model.state_dict(), automatic_weights) == 0.0


def test_the_undivided_run_is_the_same_mistake_in_all_three_programs():
    """The page's undivided run: the plain loss.backward(), fabric.backward and Lightning's manual_backward divide
    nothing, so the three programs make the same mistake (the same windows, the same weights), and it is one."""
    undivided = {kind: run(kind, LONGER, divide_by="none") for kind in KINDS}
    for kind in ("lightning", "fabric"):
        assert undivided[kind]["windows"] == undivided["pytorch"]["windows"]
        assert max_abs_difference(undivided[kind]["state_dict"], undivided["pytorch"]["state_dict"]) == 0.0
    assert max_abs_difference(undivided["pytorch"]["state_dict"], run("pytorch", LONGER)["state_dict"]) > 1e-2


def _grads(module) -> list:
    """The network's gradients as they are now: a copy of each ``.grad``, None where there is none."""
    return [None if p.grad is None else p.grad.detach().clone() for p in module.model.parameters()]


def _as_in_the_guide(program, keep_grads: bool = False):
    """The manual-optimization guide's accumulation: each loss divided by N, a step on (batch_idx + 1) % N == 0
    only. Records the gradients each epoch's first training_step finds and those its last one leaves; with
    ``keep_grads`` the hook Lightning calls before every validation does nothing."""

    class AsInTheGuide(program.Classifier):
        def on_fit_start(self):
            self.found, self.left = [], []

        def training_step(self, batch, batch_idx):
            if batch_idx == 0:
                self.found.append(_grads(self))
            x, y = batch
            loss = self.loss_fn(self.model(x), y)
            optimizer = self.optimizers()
            self.manual_backward(loss / self.accumulate)
            if (batch_idx + 1) % self.accumulate == 0:
                optimizer.step()
                optimizer.zero_grad()
            if batch_idx + 1 == self.trainer.num_training_batches:
                self.left.append(_grads(self))

        if keep_grads:
            def on_validation_model_zero_grad(self):
                pass

    return AsInTheGuide


def test_the_guides_condition_throws_the_epochs_leftovers_away_at_validation():
    """The guide steps on (batch_idx + 1) % N == 0 only: with 10 micro-batches per epoch the last two (16 and 6
    samples) have no step. Their gradients do not reach the next epoch: Lightning calls on_validation_model_zero_grad
    (self.zero_grad()) before the epoch's validation, so the next epoch's first training_step finds no .grad.
    The same module with that hook doing nothing finds the leftovers there, and ends with other weights."""
    program = load_program(TOPIC, "lightning")
    epochs = LONGER["epochs"]
    guide = module(LONGER, manual=True, cls=_as_in_the_guide(program))
    trainer, steps, _, _ = _fit(guide, LONGER)
    assert trainer.global_step == 2 * epochs  # two per epoch: 6 steps, not 9
    assert all(g is not None and g.abs().sum() > 0 for left in guide.left for g in left)  # the leftovers existed
    assert all(g is None for found in guide.found for g in found)  # and were gone when the next epoch began
    assert steps[2] == [16, 6, 16, 16, 16, 16]  # forward passes between steps 2 and 3: not gradients in the step

    kept = module(LONGER, manual=True, cls=_as_in_the_guide(program, keep_grads=True))
    _fit(kept, LONGER)
    assert all(g is None for g in kept.found[0])
    for left, found in zip(kept.left[:-1], kept.found[1:]):  # epoch e's leftovers are what epoch e + 1 finds
        assert all(torch.equal(a, b) for a, b in zip(left, found))
    assert max_abs_difference(guide.model.state_dict(), kept.model.state_dict()) > 1e-2  # 0.028 here


def test_without_validation_the_guides_leftovers_join_the_next_epochs_first_window():
    """Only where no validation runs at the epoch's end does nothing clear them: without a validation loader the
    guide's module trains as the one whose on_validation_model_zero_grad does nothing (validation itself changes
    no weight), and not as the one whose leftovers are cleared."""
    program = load_program(TOPIC, "lightning")
    unvalidated = module(LONGER, manual=True, cls=_as_in_the_guide(program))
    _fit(unvalidated, LONGER, validate=False)
    assert all(g is not None for found in unvalidated.found[1:] for g in found)
    kept = module(LONGER, manual=True, cls=_as_in_the_guide(program, keep_grads=True))
    _fit(kept, LONGER)
    cleared = module(LONGER, manual=True, cls=_as_in_the_guide(program))
    _fit(cleared, LONGER)
    assert max_abs_difference(unvalidated.model.state_dict(), kept.model.state_dict()) == 0.0
    assert max_abs_difference(unvalidated.model.state_dict(), cleared.model.state_dict()) > 1e-2


def test_a_validation_inside_a_manual_window_clears_it_and_one_inside_an_automatic_window_does_not():
    """In manual optimization accumulate_grad_batches is 1, so no batch is inside a window for the Trainer and the
    model's zero_grad precedes every validation; under accumulate_grad_batches the Trainer skips it mid-window.
    With a validation after the 6th of 10 micro-batches (val_check_interval=6), the 7th finds no .grad in manual
    optimization, and the 5th and 6th micro-batches' sum under accumulate_grad_batches=4."""
    program = load_program(TOPIC, "lightning")
    params = {**LONGER, "epochs": 1}

    def probing(divide_by):
        class Probe(program.Classifier):
            def on_fit_start(self):
                self.found = []

            def training_step(self, batch, batch_idx):
                self.found.append(_grads(self))
                return super().training_step(batch, batch_idx)
        return module(params, divide_by, cls=Probe)

    manual, automatic = probing("samples"), probing("n")
    _fit(manual, params, val_check_interval=6)
    _fit(automatic, params, val_check_interval=6, accumulate_grad_batches=4)
    assert not manual.automatic_optimization and automatic.automatic_optimization
    assert all(g is not None for g in manual.found[5]) and all(g is None for g in manual.found[6])
    assert all(g is not None for g in automatic.found[6])


@pytest.mark.parametrize("path, line, text", [
    ("loops/training_epoch_loop.py", 440, "return self.batch_progress.current.ready % self.trainer.accumulate_grad_batches == 0"),
    ("loops/training_epoch_loop.py", 444, "epoch_finished_on_ready = self.batch_progress.current.ready == self.trainer.num_training_batches"),
    ("loops/training_epoch_loop.py", 454, "return not accumulation_done and strategy_accumulates_on_final_batch"),
    ("loops/optimization/automatic.py", 83, "closure_loss = closure_loss / normalize"),
    ("loops/optimization/automatic.py", 329, "return self.output_result_cls.from_training_step_output(training_step_output, trainer.accumulate_grad_batches)"),
    ("trainer/configuration_validator.py", 128, "if trainer.accumulate_grad_batches != 1:"),
    ("loops/training_epoch_loop.py", 402, "if not self._should_accumulate():"),
    ("loops/training_epoch_loop.py", 404, 'call._call_lightning_module_hook(self.trainer, "on_validation_model_zero_grad")'),
    ("core/hooks.py", 161, "self.zero_grad()"),
])
def test_source_lines_the_page_cites(path, line, text):
    """The page cites these lines of the installed Lightning; they must say what it says they say."""
    assert pl.__version__ == "2.6.6"
    assert (LIGHTNING / path).read_text().splitlines()[line - 1].strip() == text
