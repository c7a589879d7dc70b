"""snippets/step_training: max_steps, validation and checkpoints every n steps, resuming inside an epoch.

The runs of runs.toml execute with the harness's gather (tests.conftest.run_program), so that what the
page shows about them is what these tests check.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback, ModelCheckpoint
from torch.utils.data import DataLoader

from evidence import checks, declared
from evidence.running.measure import max_abs_difference
from tests.conftest import load_program, run_program

TOPIC = "step_training"
KINDS = ["pytorch", "lightning", "fabric"]
RUNS = {run.name: {**run.params, "device": "cpu"} for run in declared.runs(TOPIC)}
PUBLISHED = RUNS["resume_mid_epoch"]
LIGHTNING = Path(pl.__file__).parent


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return {(kind, name): run_program(TOPIC, kind, name, **params, ckpt_dir=str(tmp_path_factory.mktemp(kind)))
            for kind in KINDS for name, params in RUNS.items()}


def test_published_configuration_is_the_one_the_page_describes():
    assert PUBLISHED == {"max_steps": 30, "seed": 0, "stop_at": 20, "device": "cpu"}
    assert RUNS["uninterrupted"]["stop_at"] == 0
    train_set, _ = load_program(TOPIC, "pytorch").make_data(0)
    assert len(train_set) == 200  # 13 batches of 16 (the last of 8): step 20 is batch 7 of epoch 1


@pytest.mark.parametrize("kind", KINDS)
def test_resumed_in_the_middle_of_an_epoch_equals_the_uninterrupted_run(results, kind):
    resumed, whole = results[kind, "resume_mid_epoch"], results[kind, "uninterrupted"]
    assert resumed["files"] == whole["files"] == ["step=10.ckpt", "step=20.ckpt", "step=30.ckpt"]
    assert max_abs_difference(resumed["state_dict"], whole["state_dict"]) == 0.0
    assert resumed["steps"] == whole["steps"] == 30
    assert resumed["at_step_20"]["epoch"] == 1
    if kind != "lightning":
        assert resumed["history"] == whole["history"]
        assert resumed["history"]["val_step"] == [5, 10, 15, 20, 25, 30]
        assert resumed["at_step_20"]["position"] == 7


@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_identical_to_plain_pytorch(results, kind):
    for name in RUNS:
        assert max_abs_difference(results[kind, name]["state_dict"], results["pytorch", name]["state_dict"]) == 0.0


def test_declared_checks_hold_on_these_results(results):
    from evidence.running.worker import _jsonable

    reports = {name: {"implementations": {kind: _jsonable({**{k: v for k, v in results[kind, name].items() if k != "model"},
                                                             "weights": results[kind, name]["state_dict"]})
                                          for kind in KINDS}}
               for name in RUNS}
    found = [checks.evaluate(check, reports) for check in checks.declared_checks(TOPIC)]
    assert found and all(c["expected"] for c in found), [c for c in found if not c["expected"]]


def test_lightning_saves_the_state_of_a_loader_that_has_one(results):
    fit_loop = results["lightning", "resume_mid_epoch"]["at_step_20"]["loops"]["fit_loop"]
    assert fit_loop["epoch_loop.batch_progress"]["current"]["ready"] == 7
    assert [state["served"] for state in fit_loop["state_dict"]["combined_loader"]] == [7]


@pytest.mark.parametrize("resumable", [True, False])
def test_which_batches_the_resumed_lightning_run_trains_on(resumable, tmp_path, monkeypatch):
    """The page's claim: with a torch DataLoader the resumed epoch replays the first batches of the first
    epoch's order and the next epoch gets the previous epoch's order; with ResumableLoader the resumed run
    trains on exactly the batches the uninterrupted run trained on after step 20."""
    program = load_program(TOPIC, "lightning")
    seen = []

    class Recording(program.Classifier):
        def training_step(self, batch, batch_idx):
            seen.append(batch[0].sum().item())
            return super().training_step(batch, batch_idx)

    monkeypatch.setattr(program, "Classifier", Recording)
    if not resumable:
        monkeypatch.setattr(program, "ResumableLoader", DataLoader)
    program.run(device="cpu", ckpt_dir=str(tmp_path / "whole"))
    epochs = [seen[:13], seen[13:26], seen[26:]]
    seen.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        program.run(device="cpu", stop_at=20, ckpt_dir=str(tmp_path / "resumed"))
    resumed = seen[20:]
    not_resumable = [w for w in caught if "your dataloader is not resumable" in str(w.message)]
    if resumable:
        assert resumed == epochs[1][7:] + epochs[2] and not not_resumable
    else:
        assert resumed == epochs[0][:6] + epochs[1][:4]
        assert [w.category.__name__ for w in not_resumable] == ["PossibleUserWarning"]


def test_model_checkpoint_warns_about_the_folder_a_resumed_run_continues(tmp_path):
    (tmp_path / "step=20.ckpt").write_bytes(b"the first run's checkpoint")
    checkpoint = ModelCheckpoint(dirpath=tmp_path, filename="{step}", every_n_train_steps=10, save_top_k=-1)
    trainer = pl.Trainer(max_steps=1, accelerator="cpu", logger=False, callbacks=[checkpoint],
                         enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
    with pytest.warns(UserWarning, match="exists and is not empty"):
        checkpoint.setup(trainer, load_program(TOPIC, "lightning").Classifier(), "fit")


class ValidationSteps(Callback):
    def __init__(self):
        self.steps = []

    def on_validation_end(self, trainer, pl_module):
        if not trainer.sanity_checking:
            self.steps.append(trainer.global_step)


def _validated_at(tmp_path, **trainer_args) -> list[int]:
    program = load_program(TOPIC, "lightning")
    train_set, val_set = program.make_data(0)
    validations = ValidationSteps()
    trainer = pl.Trainer(max_steps=30, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, callbacks=[validations],
                         default_root_dir=tmp_path, **trainer_args)
    trainer.fit(program.Classifier(0.1), DataLoader(train_set, batch_size=16), DataLoader(val_set, batch_size=16))
    assert trainer.max_epochs == -1  # max_steps given, max_epochs not: no epoch limit
    return validations.steps


def test_an_integer_val_check_interval_counts_within_the_epoch_by_default(tmp_path):
    assert _validated_at(tmp_path, val_check_interval=5, check_val_every_n_epoch=None) == [5, 10, 15, 20, 25, 30]
    assert _validated_at(tmp_path, val_check_interval=5) == [5, 10, 18, 23]  # batches 5 and 10 of each epoch
    with pytest.raises(ValueError, match="must be less than or equal to the number of the training batches"):
        _validated_at(tmp_path, val_check_interval=20)
    assert _validated_at(tmp_path, val_check_interval=20, check_val_every_n_epoch=None) == [20]


def test_val_check_interval_counts_batches_and_max_steps_counts_optimizer_steps(tmp_path):
    """The page's example: with accumulate_grad_batches=2, val_check_interval=4 validates every second step."""
    assert _validated_at(tmp_path, val_check_interval=4, check_val_every_n_epoch=None,
                         accumulate_grad_batches=2)[:5] == [2, 4, 6, 8, 10]


@pytest.mark.parametrize("kind", ["pytorch", "lightning"])
def test_an_epoch_limit_stops_both_trainings_at_the_same_step(kind, tmp_path):
    from evidence.running.gather import gathered_run

    result, _ = gathered_run(load_program(TOPIC, kind).run, {**PUBLISHED, "epochs": 2, "ckpt_dir": str(tmp_path)})
    assert result["steps"] == 26 and sorted(p.name for p in tmp_path.iterdir()) == ["step=10.ckpt", "step=20.ckpt"]


@pytest.mark.parametrize("path, line, text", [
    ("loops/training_epoch_loop.py", 222, "is_resumable_loader = all(isinstance(loader, _Stateful) for loader in loader.flattened)"),
    ("loops/training_epoch_loop.py", 229, "category=PossibleUserWarning,"),
    ("loops/training_epoch_loop.py", 559, "current_iteration = self.total_batch_idx if self.trainer.check_val_every_n_epoch is None else self.batch_idx"),
    ("loops/fit_loop.py", 295, "if ("),
    ("loops/fit_loop.py", 300, "raise ValueError("),
    ("loops/utilities.py", 80, "max_epochs = -1"),
])
def test_source_lines_the_page_cites(path, line, text):
    """The page cites these lines of the installed Lightning; they must say what it says they say."""
    assert pl.__version__ == "2.6.6"
    assert (LIGHTNING / path).read_text().splitlines()[line - 1].strip() == text
