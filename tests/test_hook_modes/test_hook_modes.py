"""snippets/hook_modes: the modes of every forward pass, parity, and what a hook that leaves eval mode changes.

The modes are read the way the page reads them: from the harness's call recorder
(`evidence.running.trace`), which notes each forward pass's module mode and grad mode, and
each train()/eval() call with the function that made it.
"""

from __future__ import annotations

from collections import Counter

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities.warnings import PossibleUserWarning

from evidence import declared
from evidence.programs import program_path
from evidence.running import trace
from evidence.running.gather import gathered_run
from evidence.running.measure import max_abs_difference
from tests.conftest import load_program, run_program

TOPIC = "hook_modes"
KINDS = ["pytorch", "lightning", "fabric"]
PUBLISHED = {**declared.run(TOPIC).params, "device": "cpu"}
"""The headline run's parameters (runs.toml): what the page shows."""
LEFT = {**PUBLISHED, **declared.run(TOPIC, "left_in_eval").params}
EPOCHS = PUBLISHED["epochs"]
STEPS_PER_EPOCH = 13  # 409 training rows in batches of 32
TRAINING_FUNCTION = {"pytorch": "run", "lightning": "training_step", "fabric": "run"}


def recorded(kind: str, params: dict) -> tuple[dict, Counter]:
    """A program's result as the harness normalises it, from a run under the call recorder (as the
    page's recorded pass), and its calls counted by (op, module mode, grad mode, the program's function)."""
    with trace.Recorder(program_path(TOPIC, kind)) as recorder:
        result, _ = gathered_run(load_program(TOPIC, kind).run, params)
    calls = Counter((e["op"], e.get("mode"), e["grad"], e["by"]) for e in recorder.report()["events"]
                    if e["op"] in ("forward", "train", "eval"))
    return result, calls


@pytest.fixture(scope="module")
def headline():
    return {kind: recorded(kind, PUBLISHED) for kind in KINDS}


@pytest.fixture(scope="module")
def results(headline):
    return {kind: result for kind, (result, _) in headline.items()}


@pytest.fixture(scope="module")
def headline_calls(headline):
    return {kind: calls for kind, (_, calls) in headline.items()}


@pytest.fixture(scope="module")
def left():
    return {kind: recorded(kind, LEFT) for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_training_passes_in_train_mode_and_validation_in_eval_mode_without_gradients(headline_calls, kind):
    calls = headline_calls[kind]
    training = TRAINING_FUNCTION[kind]
    assert calls[("forward", "train", "grad", training)] == EPOCHS * STEPS_PER_EPOCH
    assert not any(op == "forward" and mode == "eval" and grad == "grad" for op, mode, grad, _ in calls)
    validation = "validation_step" if kind == "lightning" else "run"
    sanity = 2 if kind == "lightning" else 0  # Lightning's sanity check: two validation batches first
    assert calls[("forward", "eval", "no_grad", validation)] == EPOCHS * 4 + sanity  # 103 rows: 4 batches
    assert calls[("forward", "eval", "no_grad", "probe")] == EPOCHS


def test_lightning_switches_to_eval_for_validation_and_never_calls_train(headline_calls):
    calls = headline_calls["lightning"]
    assert calls[("eval", None, "no_grad", "run")] == EPOCHS + 1  # the sanity check and every epoch
    assert [key for key in calls if key[0] == "train"] == [("train", None, "grad", "probe")]  # the probe's own


@pytest.mark.parametrize("kind", ["pytorch", "fabric"])
def test_the_loops_switch_modes_themselves(headline_calls, kind):
    calls = headline_calls[kind]
    assert calls[("train", None, "grad", "run")] == calls[("eval", None, "grad", "run")] == EPOCHS
    # the probe runs after validation, in eval mode: model.train(was_training) puts eval mode back
    assert calls[("eval", None, "grad", "probe")] == 2 * EPOCHS


@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_same_numbers_as_plain_pytorch(results, kind):
    assert results[kind]["steps"] == results["pytorch"]["steps"] == EPOCHS * STEPS_PER_EPOCH
    assert max_abs_difference(results[kind]["state_dict"], results["pytorch"]["state_dict"]) == 0.0
    assert max_abs_difference(results[kind]["history"], results["pytorch"]["history"]) <= 1e-6
    assert results["pytorch"]["history"]["val_loss"][-1] < results["pytorch"]["history"]["val_loss"][0]


def test_a_probe_that_leaves_eval_mode_changes_only_the_lightning_run(results, left):
    assert LEFT["restore_mode"] is False
    for kind in ("pytorch", "fabric"):  # the next epoch's model.train() repairs it
        result, calls = left[kind]
        assert max_abs_difference(result["state_dict"], results[kind]["state_dict"]) == 0.0
        assert result["history"] == results[kind]["history"]
        assert calls[("forward", "train", "grad", "run")] == EPOCHS * STEPS_PER_EPOCH
    result, calls = left["lightning"]
    assert calls[("forward", "train", "grad", "training_step")] == STEPS_PER_EPOCH  # the first epoch only
    assert calls[("forward", "eval", "grad", "training_step")] == (EPOCHS - 1) * STEPS_PER_EPOCH
    assert result["state_dict"]["1.num_batches_tracked"].item() == STEPS_PER_EPOCH
    normal, history = results["lightning"]["history"], result["history"]
    assert history["train_loss"][0] == normal["train_loss"][0]  # epoch 1 is unchanged
    # what the page says of the curves: lower losses, not higher, on this problem
    assert history["train_loss"][-1] < normal["train_loss"][-1]
    assert history["val_loss"][-1] < normal["val_loss"][-1]
    assert max_abs_difference(history["val_loss"], left["pytorch"][0]["history"]["val_loss"]) > 1e-3


class Spy(pl.Callback):
    """Records, per epoch, the LightningModule's own flag and the network's at each training batch."""

    def __init__(self):
        self.seen = {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        flags = (pl_module.training, pl_module.model.training)
        self.seen.setdefault(trainer.current_epoch, set()).add(flags)


def fit(module, callbacks=(), epochs=EPOCHS, restore_mode=True, with_probe=True):
    lightning = load_program(TOPIC, "lightning")
    pl.seed_everything(0, verbose=False)
    train_set, val_set = lightning.make_data(0)
    loader = torch.utils.data.DataLoader(train_set, batch_size=32, shuffle=True,
                                         generator=torch.Generator().manual_seed(0))
    probe = [lightning.Probe(val_set.tensors[0][:32], restore_mode)] if with_probe else []
    trainer = pl.Trainer(max_epochs=epochs, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, callbacks=[*probe, *callbacks])
    trainer.fit(module, loader, torch.utils.data.DataLoader(val_set, batch_size=32))
    return trainer


def test_self_training_stays_true_while_the_network_is_in_eval_mode():
    spy = Spy()
    fit(load_program(TOPIC, "lightning").Classifier(), callbacks=[spy], restore_mode=False)
    assert spy.seen[0] == {(True, True)}
    assert all(spy.seen[epoch] == {(True, False)} for epoch in range(1, EPOCHS))


def test_a_network_in_eval_mode_before_fit_trains_in_eval_mode_with_a_warning():
    """#20986: since 2.2.0 fit does not call .train(); since 2.5.5 it warns."""
    module = load_program(TOPIC, "lightning").Classifier()
    module.model.eval()
    spy = Spy()
    with pytest.warns(PossibleUserWarning, match=r"Found \d+ module\(s\) in eval mode at the start of training"):
        fit(module, callbacks=[spy], epochs=1)
    assert spy.seen[0] == {(True, False)}
    assert module.model[1].num_batches_tracked.item() == 0


@pytest.mark.parametrize("kind", ["pytorch", "fabric"])
def test_the_loops_train_a_network_that_arrives_in_eval_mode_in_train_mode(results, kind, monkeypatch):
    program = load_program(TOPIC, kind)
    original = program.build_model
    monkeypatch.setattr(program, "build_model", lambda: original().eval())
    arrived = run_program(TOPIC, kind, **PUBLISHED)
    assert max_abs_difference(arrived["state_dict"], results[kind]["state_dict"]) == 0.0


def test_lightning_keeps_a_frozen_submodule_frozen_across_validation():
    """Since 2.2.0 the Trainer restores each submodule's own mode after validating (_ModuleMode)."""
    Classifier = load_program(TOPIC, "lightning").Classifier

    class FrozenNorm(Classifier):
        def on_train_start(self):
            self.model[1].eval()

        def on_train_batch_start(self, batch, batch_idx):
            self.seen = getattr(self, "seen", set()) | {(self.model[1].training, self.model[3].training)}

    module = FrozenNorm()
    fit(module, epochs=3, with_probe=False)
    assert module.seen == {(False, True)}
    assert module.model[1].num_batches_tracked.item() == 0
    from pytorch_lightning.utilities.model_helpers import _ModuleMode

    assert hasattr(_ModuleMode, "capture") and hasattr(_ModuleMode, "restore")


def test_restoring_one_flag_unfreezes_a_frozen_submodule():
    """The page: model.train(was_training) sets every submodule; only a per-submodule save keeps a freeze."""
    program = load_program(TOPIC, "pytorch")
    network = program.build_model()
    network[1].eval()
    program.probe(network, torch.randn(8, 10))
    assert network[1].training  # the probe's model.train(True) unfroze batch norm
    network[1].eval()
    saved = {name: m.training for name, m in network.named_modules()}
    network.eval()
    for name, m in network.named_modules():
        m.training = saved[name]
    assert not network[1].training and network[3].training


def test_fabric_wrapper_keeps_its_own_flag():
    from lightning_fabric import Fabric

    network = load_program(TOPIC, "fabric").build_model().eval()
    wrapped = Fabric(accelerator="cpu", devices=1).setup(network)
    assert wrapped.training and not wrapped.module.training
    wrapped.train()
    assert wrapped.module.training
