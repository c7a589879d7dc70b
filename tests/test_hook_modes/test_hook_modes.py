"""snippets/hook_modes: the modes in every hook, parity, and what a hook that leaves eval mode changes."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities.warnings import PossibleUserWarning

from evidence import declared
from evidence.running.measure import max_abs_difference
from tests.conftest import load_program

TOPIC = "hook_modes"
KINDS = ["pytorch", "lightning", "fabric"]
PUBLISHED = declared.run(TOPIC).params
"""The headline run's parameters (runs.toml): what the page shows."""
LEFT = {**PUBLISHED, **declared.run(TOPIC, "left_in_eval").params}
STEPS_PER_EPOCH = 13  # 409 training rows in batches of 32
TRAIN, EVAL = {"training": [True], "grad": ["grad"]}, {"training": [False], "grad": ["no_grad"]}
LOOP_MODES = {"on_fit_start": TRAIN, "on_train_epoch_start": TRAIN, "training_step": TRAIN, "validation_step": EVAL,
              "on_validation_epoch_end": {"training": [False], "grad": ["grad"]},
              "on_train_epoch_end": {"training": [False], "grad": ["grad"]},
              "on_fit_end": {"training": [False], "grad": ["grad"]}}


@pytest.fixture(scope="module")
def results():
    return {kind: load_program(TOPIC, kind).run(**PUBLISHED, device="cpu") for kind in KINDS}


@pytest.fixture(scope="module")
def left():
    return {kind: load_program(TOPIC, kind).run(**LEFT, device="cpu") for kind in KINDS}


class Spy(pl.Callback):
    """Records, per epoch, the LightningModule's own flag and the network's at each training batch."""

    def __init__(self):
        self.seen = {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        flags = (pl_module.training, pl_module.model.training)
        self.seen.setdefault(trainer.current_epoch, set()).add(flags)


def fit(module, callbacks=(), epochs=None, restore_mode=True, with_probe=True):
    lightning = load_program(TOPIC, "lightning")
    pl.seed_everything(0, verbose=False)
    train_set, val_set = lightning.make_data(0)
    loader = torch.utils.data.DataLoader(train_set, batch_size=32, shuffle=True,
                                         generator=torch.Generator().manual_seed(0))
    probe = [lightning.Probe(val_set.tensors[0][:32], restore_mode)] if with_probe else []
    trainer = pl.Trainer(max_epochs=epochs or PUBLISHED["epochs"], accelerator="cpu", logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         callbacks=[*probe, *callbacks])
    trainer.fit(module, loader, torch.utils.data.DataLoader(val_set, batch_size=32))
    return trainer


@pytest.mark.parametrize("kind", KINDS)
def test_run_trains_in_train_mode_and_validates_in_eval_mode(results, kind):
    result = results[kind]
    epochs = PUBLISHED["epochs"]
    assert result["steps"] == epochs * STEPS_PER_EPOCH
    assert all(len(values) == epochs for values in result["history"].values())
    assert result["history"]["bn_batches_tracked"] == [STEPS_PER_EPOCH * (e + 1) for e in range(epochs)]
    assert result["history"]["val_loss"][-1] < result["history"]["val_loss"][0]
    assert result["modes"]["training_step"] == TRAIN
    assert result["modes"]["validation_step"] == EVAL


@pytest.mark.parametrize("kind", ["pytorch", "fabric"])
def test_the_loops_record_at_the_places_the_page_names(results, kind):
    assert results[kind]["modes"] == LOOP_MODES
    assert list(results[kind]["modes"]) == list(LOOP_MODES)


def test_lightning_modes_in_every_hook(results):
    modes = results["lightning"]["modes"]
    validation = [hook for hook in modes if "validation" in hook]
    assert len(validation) == 14  # seven validation hooks, in the sanity check and in fit
    assert all(modes[hook] == EVAL for hook in validation)
    assert all(modes[hook] == TRAIN for hook in modes if hook not in validation)
    # where the page says the columns disagree
    for hook in ("on_train_epoch_end", "on_fit_end"):
        assert modes[hook] == TRAIN and results["pytorch"]["modes"][hook]["training"] == [False]
    assert modes["on_validation_epoch_end"]["grad"] == ["no_grad"]
    assert results["pytorch"]["modes"]["on_validation_epoch_end"]["grad"] == ["grad"]
    assert list(modes)[:3] == ["setup", "on_fit_start", "on_sanity_check_start"]
    assert list(modes)[-1] == "teardown"


@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_same_numbers_as_plain_pytorch(results, kind):
    assert max_abs_difference(results[kind]["state_dict"], results["pytorch"]["state_dict"]) == 0.0
    assert max_abs_difference(results[kind]["history"], results["pytorch"]["history"]) <= 1e-6


def test_a_probe_that_leaves_eval_mode_changes_only_the_lightning_run(results, left):
    assert LEFT["restore_mode"] is False
    for kind in ("pytorch", "fabric"):  # the next epoch's model.train() repairs it
        assert max_abs_difference(left[kind]["state_dict"], results[kind]["state_dict"]) == 0.0
        assert left[kind]["history"] == results[kind]["history"]
        assert left[kind]["modes"]["training_step"] == TRAIN
    lightning, normal = left["lightning"], results["lightning"]
    assert lightning["modes"]["training_step"] == {"training": [True, False], "grad": ["grad"]}
    assert lightning["history"]["bn_batches_tracked"] == [STEPS_PER_EPOCH] * PUBLISHED["epochs"]
    assert lightning["history"]["train_loss"][0] == normal["history"]["train_loss"][0]  # epoch 1 is unchanged
    # what the page says of the curves: lower losses, not higher, on this problem
    assert lightning["history"]["train_loss"][-1] < normal["history"]["train_loss"][-1]
    assert lightning["history"]["val_loss"][-1] < normal["history"]["val_loss"][-1]
    assert max_abs_difference(lightning["history"]["val_loss"], left["pytorch"]["history"]["val_loss"]) > 1e-3


def test_self_training_stays_true_while_the_network_is_in_eval_mode():
    spy = Spy()
    fit(load_program(TOPIC, "lightning").Classifier(), callbacks=[spy], restore_mode=False)
    assert spy.seen[0] == {(True, True)}
    assert all(spy.seen[epoch] == {(True, False)} for epoch in range(1, PUBLISHED["epochs"]))


def test_a_network_in_eval_mode_before_fit_trains_in_eval_mode_with_a_warning():
    """#20986: since 2.2.0 fit does not call .train(); since 2.5.5 it warns."""
    module = load_program(TOPIC, "lightning").Classifier()
    module.model.eval()
    with pytest.warns(PossibleUserWarning, match=r"Found \d+ module\(s\) in eval mode at the start of training"):
        fit(module, epochs=1)
    assert module.modes["training_step"] == {"training": [False], "grad": ["grad"]}
    assert module.model[1].num_batches_tracked.item() == 0


@pytest.mark.parametrize("kind", ["pytorch", "fabric"])
def test_the_loops_train_a_network_that_arrives_in_eval_mode_in_train_mode(results, kind, monkeypatch):
    program = load_program(TOPIC, kind)
    original = program.build_model
    monkeypatch.setattr(program, "build_model", lambda: original().eval())
    arrived = program.run(**PUBLISHED, device="cpu")
    assert arrived["modes"]["on_fit_start"]["training"] == [False]
    assert max_abs_difference(arrived["state_dict"], results[kind]["state_dict"]) == 0.0


def test_lightning_keeps_a_frozen_submodule_frozen_across_validation():
    """Since 2.2.0 the Trainer restores each submodule's own mode after validating (_ModuleMode)."""
    Classifier = load_program(TOPIC, "lightning").Classifier

    class FrozenNorm(Classifier):
        def on_train_start(self):
            self.model[1].eval()

        def on_train_batch_start(self, batch, batch_idx):
            self.modes.setdefault("norm, dropout", set()).add((self.model[1].training, self.model[3].training))

    module = FrozenNorm()
    fit(module, epochs=3, with_probe=False)
    assert module.modes["norm, dropout"] == {(False, True)}
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
