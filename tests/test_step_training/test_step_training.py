"""snippets/step_training: max_steps, validation and checkpoints every n steps, resuming inside an epoch."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import pytorch_lightning as pl
from torch.utils.data import DataLoader

from evidence import declared
from evidence.running.measure import max_abs_difference
from tests.conftest import load_program

TOPIC = "step_training"
KINDS = ["pytorch", "lightning", "fabric"]
PUBLISHED = declared.run(TOPIC).params
"""The headline run's parameters (runs.toml): what the page shows."""
LIGHTNING = Path(pl.__file__).parent


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return {kind: load_program(TOPIC, kind).run(**PUBLISHED, device="cpu", ckpt_dir=str(tmp_path_factory.mktemp(kind)))
            for kind in KINDS}


def test_published_configuration_is_the_one_the_page_describes():
    assert PUBLISHED == {"max_steps": 30, "seed": 0, "val_every": 5, "ckpt_every": 10, "resume_from": 20}
    train_set, _ = load_program(TOPIC, "pytorch").make_data(0)
    assert len(train_set) == 200  # 13 batches of 16 (the last of 8): step 20 is batch 7 of epoch 1
    assert declared.runs(TOPIC)[1].overrides == {"lightning": {"resumable": False}}


@pytest.mark.parametrize("kind", KINDS)
def test_resumed_in_the_middle_of_an_epoch_equals_the_uninterrupted_run(results, kind):
    result = results[kind]
    assert (result["batches_per_epoch"], result["checkpoint_epoch"], result["checkpoint_batch"]) == (13, 1, 7)
    assert result["global_step"] == 30 and result["steps"] == 40
    assert [name.split(".")[0] for name in result["checkpoints"]] == ["step=10", "step=20", "step=30"]
    assert result["history"]["val_step"] == [5, 10, 15, 20, 25, 30]
    assert result["history"] == result["uninterrupted_history"]
    assert result["bitwise_equal"] and result["resume_difference"] == 0.0
    assert [w["category"] for w in result["warnings"]] == (["UserWarning"] if kind == "lightning" else [])


@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_identical_to_plain_pytorch(results, kind):
    assert max_abs_difference(results[kind]["state_dict"], results["pytorch"]["state_dict"]) == 0.0
    assert max_abs_difference(results[kind]["history"], results["pytorch"]["history"]) == 0.0


def test_lightning_saves_the_loaders_state_only_for_a_loader_that_has_one(results, tmp_path):
    assert results["lightning"]["loader_state_saved"]
    plain = load_program(TOPIC, "lightning").run(**PUBLISHED, device="cpu", ckpt_dir=str(tmp_path), resumable=False)
    assert not plain["loader_state_saved"]
    assert not plain["bitwise_equal"] and plain["resume_difference"] > 1e-2
    categories = [w["category"] for w in plain["warnings"]]
    assert categories == ["UserWarning", "PossibleUserWarning"]
    assert plain["warnings"][1]["message"].startswith("You're resuming from a checkpoint that ended before the epoch")
    assert "exists and is not empty" in plain["warnings"][0]["message"]


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
    args = dict(max_steps=30, seed=0, device="cpu", batch_size=16, lr=0.1, val_every=5, ckpt_every=10,
                ckpt_dir=str(tmp_path), resumable=resumable)
    program.train(**args)
    epochs = [seen[:13], seen[13:26], seen[26:]]
    seen.clear()
    with warnings.catch_warnings(record=True):  # the folder holds checkpoints; without state, mid-epoch
        warnings.simplefilter("always")
        program.train(**args, resume_from=str(tmp_path / "step=20.ckpt"))
    if resumable:
        assert seen == epochs[1][7:] + epochs[2]
    else:
        assert seen == epochs[0][:6] + epochs[1][:4]


def _validated_at(tmp_path, **trainer_args) -> list[int]:
    program = load_program(TOPIC, "lightning")
    train_set, val_set = program.make_data(0)
    history = program.History(verbose=False)
    trainer = pl.Trainer(max_steps=30, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, callbacks=[history],
                         default_root_dir=tmp_path, **trainer_args)
    trainer.fit(program.Classifier(0.1), DataLoader(train_set, batch_size=16), DataLoader(val_set, batch_size=16))
    assert trainer.max_epochs == -1  # max_steps given, max_epochs not: no epoch limit
    return history.history["val_step"]


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
    result = load_program(TOPIC, kind).run(**PUBLISHED, device="cpu", ckpt_dir=str(tmp_path), epochs=2)
    assert result["global_step"] == 26 and result["bitwise_equal"]


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
