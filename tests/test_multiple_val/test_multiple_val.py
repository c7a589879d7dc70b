"""snippets/multiple_val: two validation sets, the names each program gives their metrics, and parity."""

from __future__ import annotations

import re
import warnings

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from pytorch_lightning.utilities.exceptions import MisconfigurationException
from torch.utils.data import DataLoader

from evidence import declared
from evidence.programs import program_path
from evidence.running import policy, trace
from evidence.running.measure import max_abs_difference
from tests.conftest import load_program, run_program

TOPIC = "multiple_val"
KINDS = ["pytorch", "lightning", "fabric"]
PUBLISHED = declared.run(TOPIC).params
"""The headline run's parameters (runs.toml): what the page shows."""
OWN_NAMES = declared.run(TOPIC, "own_names")
STEPS_PER_EPOCH = 13  # 409 training rows in batches of 32
NAMED = ["train_loss", "val_acc_clean", "val_acc_noisy", "val_loss_clean", "val_loss_noisy"]
LIGHTNING_NAMES = ["train_loss", "val_acc/dataloader_idx_0", "val_acc/dataloader_idx_1",
                   "val_loss/dataloader_idx_0", "val_loss/dataloader_idx_1"]
SUFFIXED = {"val_loss/dataloader_idx_0": "val_loss_clean", "val_acc/dataloader_idx_0": "val_acc_clean",
            "val_loss/dataloader_idx_1": "val_loss_noisy", "val_acc/dataloader_idx_1": "val_acc_noisy"}


@pytest.fixture(scope="module")
def results():
    return {kind: run_program(TOPIC, kind, **PUBLISHED, device="cpu") for kind in KINDS}


@pytest.fixture(scope="module")
def own_names():
    """The run ``own_names``: Lightning with ``add_dataloader_idx=False``, the others unchanged."""
    return {kind: run_program(TOPIC, kind, "own_names", **OWN_NAMES.params, **OWN_NAMES.overrides.get(kind, {}),
                              device="cpu") for kind in KINDS}


def quiet_trainer(**kwargs) -> pl.Trainer:
    return pl.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False,
                      **{"max_epochs": 1, "enable_checkpointing": False, **kwargs})


def loaders(batch_size: int = 32):
    train, clean, noisy = load_program(TOPIC, "lightning").make_data(seed=0)
    return (DataLoader(train, batch_size=batch_size),
            [DataLoader(clean, batch_size=batch_size), DataLoader(noisy, batch_size=batch_size)])


@pytest.mark.parametrize("kind", ["pytorch", "fabric"])
def test_run_validates_on_both_sets(results, kind):
    result = results[kind]
    epochs = PUBLISHED["epochs"]
    assert sorted(result["history"]) == NAMED
    assert all(len(values) == epochs for values in result["history"].values())
    assert result["steps"] == epochs * STEPS_PER_EPOCH
    assert result["metrics"] == {name: values[-1] for name, values in result["history"].items()}
    # the noisy copy of the held-out rows is the harder set (the declared check "noisy_is_harder")
    assert result["history"]["val_acc_noisy"][-1] < result["history"]["val_acc_clean"][-1]
    assert result["history"]["val_loss_clean"][-1] < result["history"]["val_loss_clean"][0]


def test_the_two_sets_hold_the_same_rows_with_noise_added():
    train, clean, noisy = load_program(TOPIC, "pytorch").make_data(seed=0)
    assert (len(train), len(clean), len(noisy)) == (409, 103, 103)
    assert torch.equal(clean.tensors[1], noisy.tensors[1])
    assert (noisy.tensors[0] - clean.tensors[0]).std().item() == pytest.approx(1.0, abs=0.05)


def test_metric_names(results, own_names):
    assert sorted(results["pytorch"]["metrics"]) == sorted(results["fabric"]["metrics"]) == NAMED
    assert sorted(results["lightning"]["metrics"]) == LIGHTNING_NAMES
    assert OWN_NAMES.overrides["lightning"] == {"add_dataloader_idx": False}
    assert sorted(own_names["lightning"]["metrics"]) == NAMED
    # the history the harness reads leaves out names with a "/": in the headline only the training loss
    assert sorted(results["lightning"]["history"]) == ["train_loss"]
    assert sorted(own_names["lightning"]["history"]) == NAMED


@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_same_numbers_as_plain_pytorch(results, own_names, kind):
    assert max_abs_difference(results[kind]["state_dict"], results["pytorch"]["state_dict"]) == 0.0
    assert max_abs_difference(results[kind]["history"]["train_loss"],
                              results["pytorch"]["history"]["train_loss"]) <= 1e-6
    assert max_abs_difference(own_names[kind]["state_dict"], own_names["pytorch"]["state_dict"]) == 0.0
    assert max_abs_difference(own_names[kind]["history"], own_names["pytorch"]["history"]) <= 1e-6


def test_suffixed_names_hold_each_sets_values(results):
    """The declared checks *_is_idx_*: index 0 is the clean set, index 1 the noisy one, not the other way round."""
    lightning, plain = results["lightning"]["metrics"], results["pytorch"]["metrics"]
    for suffixed, named in SUFFIXED.items():
        assert lightning[suffixed] == pytest.approx(plain[named], abs=1e-6), suffixed
    assert abs(lightning["val_acc/dataloader_idx_0"] - plain["val_acc_noisy"]) > 1e-6


def test_the_names_do_not_change_the_numbers(results, own_names):
    epochs = OWN_NAMES.params["epochs"]
    assert own_names["lightning"]["history"]["train_loss"] == results["lightning"]["history"]["train_loss"][:epochs]
    assert own_names["pytorch"]["history"] == {k: v[:epochs] for k, v in results["pytorch"]["history"].items()}


def test_sanity_check_validates_two_batches_of_each_set():
    """The page's note on the recorded calls: four forward passes in eval mode before the first training step."""
    with trace.Recorder(program_path(TOPIC, "lightning")) as recorder:
        run_program(TOPIC, "lightning", epochs=1, seed=0, device="cpu")
    forwards = [e for e in recorder.events if e["op"] == "forward"]
    first_training = next(i for i, e in enumerate(forwards) if e["mode"] == "train")
    assert first_training == 4
    assert {(e["by"], e["mode"], e["grad"]) for e in forwards[:4]} == {("validation_step", "eval", "no_grad")}


def test_validation_step_without_dataloader_idx_fails_before_training():
    Classifier = load_program(TOPIC, "lightning").Classifier

    class WithoutIndex(Classifier):
        def validation_step(self, batch, batch_idx):
            x, y = batch
            self.log("val_loss", self.loss_fn(self.model(x), y))

    trainer = quiet_trainer()
    with pytest.raises(RuntimeError, match="no `dataloader_idx` argument in `WithoutIndex.validation_step"):
        trainer.fit(WithoutIndex(), *loaders())
    assert trainer.global_step == 0


def test_same_name_without_the_suffix_is_refused():
    Classifier = load_program(TOPIC, "lightning").Classifier

    class SameName(Classifier):
        def validation_step(self, batch, batch_idx, dataloader_idx=0):
            x, y = batch
            self.log("val_loss", self.loss_fn(self.model(x), y), add_dataloader_idx=False)

    with pytest.raises(MisconfigurationException, match=r"You called `self.log\(val_loss, ...\)` twice in "
                                                        r"`validation_step` with different arguments"):
        quiet_trainer().fit(SameName(), *loaders())


def test_the_docstring_pattern_names_the_index_twice():
    Classifier = load_program(TOPIC, "lightning").Classifier

    class DocstringNames(Classifier):
        def validation_step(self, batch, batch_idx, dataloader_idx=0):
            x, y = batch
            self.log_dict({f"val_loss_{dataloader_idx}": self.loss_fn(self.model(x), y)})

        def on_validation_epoch_end(self):
            self.log("epoch_end_value", 1.0)

    trainer = quiet_trainer(num_sanity_val_steps=0)
    trainer.fit(DocstringNames(), *loaders())
    assert sorted(trainer.callback_metrics) == ["epoch_end_value", "train_loss", "val_loss_0/dataloader_idx_0",
                                                "val_loss_1/dataloader_idx_1"]
    assert "f\"val_loss_{dataloader_idx}\": loss" in pl.LightningModule.validation_step.__doc__


def test_a_suffixed_name_is_refused_with_the_default():
    Classifier = load_program(TOPIC, "lightning").Classifier

    class Suffixed(Classifier):
        def validation_step(self, batch, batch_idx, dataloader_idx=0):
            x, y = batch
            self.log(f"val_loss/dataloader_idx_{dataloader_idx}", self.loss_fn(self.model(x), y))

    with pytest.raises(MisconfigurationException, match="should not contain information about `dataloader_idx`"):
        quiet_trainer().fit(Suffixed(), *loaders())


def test_monitoring_needs_the_full_name(tmp_path):
    Classifier = load_program(TOPIC, "lightning").Classifier
    trainer = quiet_trainer(enable_checkpointing=True,  # the sanity check runs and does not raise
                            callbacks=[ModelCheckpoint(dirpath=tmp_path / "a", monitor="val_loss")])
    with pytest.raises(MisconfigurationException, match=re.escape(
            "`ModelCheckpoint(monitor='val_loss')` could not find the monitored key in the returned metrics: [")) \
            as raised:
        trainer.fit(Classifier(), *loaders())
    assert "'val_loss/dataloader_idx_0'" in str(raised.value) and "'val_loss/dataloader_idx_1'" in str(raised.value)
    assert trainer.current_epoch == 0 and trainer.global_step == STEPS_PER_EPOCH

    checkpoint = ModelCheckpoint(dirpath=tmp_path / "b", monitor="val_loss/dataloader_idx_0")
    quiet_trainer(enable_checkpointing=True, callbacks=[checkpoint]).fit(Classifier(), *loaders())
    assert checkpoint.best_model_path


def test_early_stopping_on_the_short_name_stops_with_a_runtime_error():
    """EarlyStopping(monitor="val_loss") with two loaders: after the sanity check (which it skips), the first
    validation of training raises RuntimeError (callbacks/early_stopping.py, _validate_condition_metric), not
    ModelCheckpoint's MisconfigurationException; with strict=False it never stops, and says nothing."""
    Classifier = load_program(TOPIC, "lightning").Classifier
    trainer = quiet_trainer(max_epochs=2, callbacks=[EarlyStopping(monitor="val_loss", patience=0)])
    with pytest.raises(RuntimeError, match=re.escape(
            "Early stopping conditioned on metric `val_loss` which is not available.")) as raised:
        trainer.fit(Classifier(), *loaders())
    assert not isinstance(raised.value, MisconfigurationException)
    assert "`val_loss/dataloader_idx_0`" in str(raised.value) and "`val_loss/dataloader_idx_1`" in str(raised.value)
    assert trainer.current_epoch == 0 and trainer.global_step == STEPS_PER_EPOCH

    lenient = EarlyStopping(monitor="val_loss", patience=0, strict=False)
    trainer = quiet_trainer(max_epochs=2, callbacks=[lenient])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(Classifier(), *loaders())
    known = [message for message, _, _ in policy.KNOWN_WARNINGS]
    assert [str(w.message) for w in caught if not any(re.search(k, str(w.message)) for k in known)] == []
    assert trainer.current_epoch == 2 and lenient.stopped_epoch == 0 and lenient.wait_count == 0
