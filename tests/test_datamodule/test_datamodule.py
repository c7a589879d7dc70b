"""snippets/datamodule: digits from scikit-learn, split and standardised on the training split only; parity."""

from __future__ import annotations

import pytest
import torch
from sklearn.datasets import load_digits

from evidence import declared
from evidence.running.measure import max_abs_difference
from tests.conftest import load_program, run_program

TOPIC = "datamodule"
KINDS = ["pytorch", "lightning", "fabric"]
PUBLISHED = declared.run(TOPIC).params
"""The headline run's parameters (runs.toml): what the page shows."""
HOOKS = ("prepare_data", "setup", "train_dataloader", "val_dataloader", "test_dataloader")


def record_calls(datamodule) -> list[str]:
    """Wrap the DataModule's hooks so that each call is noted (``setup:fit`` with its stage)."""
    calls = []
    for name in HOOKS:
        def recorded(*args, name=name, hook=getattr(datamodule, name), **kwargs):
            calls.append(":".join([name, *args, *kwargs.values()]))
            return hook(*args, **kwargs)
        setattr(datamodule, name, recorded)
    return calls


@pytest.fixture(scope="module")
def results():
    return {kind: run_program(TOPIC, kind, **PUBLISHED, device="cpu") for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_accuracy_on_the_held_out_test_split(results, kind):
    result = results[kind]
    assert result["test_acc"] > 0.95  # the declared check "test_accuracy"
    assert result["steps"] == PUBLISHED["epochs"] * 17  # 1079 rows in batches of 64: the check "steps"
    assert result["history"]["val_loss"][-1] < result["history"]["val_loss"][0]
    assert set(result["history"]) == {"train_loss", "val_loss", "val_acc"}


@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_same_weights_and_accuracy_as_plain_pytorch(results, kind):
    reference = results["pytorch"]
    assert max_abs_difference(results[kind]["state_dict"], reference["state_dict"]) == 0.0
    # the same predictions: the accuracies agree to float32 rounding of the logged mean
    assert round(results[kind]["test_acc"] * 359) == round(reference["test_acc"] * 359)
    for key in ("history", "test_loss", "test_acc"):
        assert max_abs_difference(results[kind][key], reference[key]) <= 1e-6, key


def _plain_split(seed):
    digits = load_digits()
    x = torch.tensor(digits.data, dtype=torch.float32)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    return x, order[:359], order[359:718], order[718:]


def test_standardised_with_training_statistics_only():
    x, test_rows, _, train_rows = _plain_split(0)
    datasets = load_program(TOPIC, "pytorch").make_datasets(seed=0)
    assert {name: len(d) for name, d in datasets.items()} == {"train": 1079, "val": 359, "test": 359}
    mean, std = x[train_rows].mean(dim=0), x[train_rows].std(dim=0)
    std = torch.where(std > 0, std, torch.ones_like(std))
    assert torch.allclose(datasets["test"].features, (x[test_rows] - mean) / std)
    assert torch.allclose(datasets["train"].features.mean(dim=0), torch.zeros(64), atol=1e-5)
    # statistics over all rows would give different test features: the check can tell them apart
    leaky = (x[test_rows] - x.mean(dim=0)) / torch.where(x.std(dim=0) > 0, x.std(dim=0), torch.ones(64))
    assert not torch.allclose(datasets["test"].features, leaky, atol=1e-3)


def test_datamodule_builds_the_same_datasets_once():
    module = load_program(TOPIC, "lightning")
    datamodule = module.DigitsDataModule(batch_size=64, seed=0)
    calls = record_calls(datamodule)
    datamodule.prepare_data()
    datamodule.setup("fit")
    first = datamodule.datasets
    datamodule.setup("test")
    assert datamodule.datasets is first
    plain = load_program(TOPIC, "pytorch").make_datasets(seed=0)
    for name in ("train", "val", "test"):
        assert torch.equal(first[name].features, plain[name].features)
        assert torch.equal(first[name].targets, plain[name].targets)
    assert calls == ["prepare_data", "setup:fit", "setup:test"]


def test_trainer_calls_the_datamodule_hooks_in_the_order_the_page_gives(monkeypatch):
    """A full run of the program with its DataModule's hook calls recorded."""
    module = load_program(TOPIC, "lightning")
    recorded = []
    original = module.DigitsDataModule.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        recorded.append(record_calls(self))

    monkeypatch.setattr(module.DigitsDataModule, "__init__", init)
    module.run(epochs=1, seed=0, device="cpu")
    # the sanity check (on by default) asks for the validation loader before training starts
    assert recorded == [["prepare_data", "setup:fit", "val_dataloader", "train_dataloader",
                         "prepare_data", "setup:test", "test_dataloader"]]


def test_prepare_data_runs_on_local_rank_zero_of_every_node_by_default():
    """What the page says about prepare_data in a multi-process run, checked on the Trainer's code path."""
    import pytorch_lightning as pl
    from pytorch_lightning.trainer.connectors.data_connector import _DataConnector

    module = load_program(TOPIC, "lightning")
    assert module.DigitsDataModule().prepare_data_per_node is True

    def calls_on(local_rank, node_rank, per_node=True):
        datamodule = module.DigitsDataModule()
        datamodule.prepare_data_per_node = per_node
        calls = record_calls(datamodule)
        trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False)
        trainer.strategy.connect(module.Classifier())
        trainer._data_connector.attach_datamodule(trainer.lightning_module, datamodule)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(type(trainer), "local_rank", property(lambda self: local_rank))
            patch.setattr(type(trainer), "node_rank", property(lambda self: node_rank))
            _DataConnector.prepare_data(trainer._data_connector)
        return calls.count("prepare_data")

    assert [calls_on(0, 0), calls_on(0, 1), calls_on(1, 0), calls_on(1, 1)] == [1, 1, 0, 0]
    assert [calls_on(0, 0, False), calls_on(0, 1, False), calls_on(1, 0, False)] == [1, 0, 0]


def test_splits_are_disjoint_and_cover_every_row():
    datasets = load_program(TOPIC, "fabric").make_datasets(seed=0)
    assert sum(len(d) for d in datasets.values()) == 1797
    _, test_rows, val_rows, train_rows = _plain_split(0)
    assert not set(test_rows.tolist()) & set(train_rows.tolist())
    assert not set(val_rows.tolist()) & set(train_rows.tolist())
