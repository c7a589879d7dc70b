"""snippets/logging: CSV and TensorBoard files written, read back from disk, and Lightning's aggregation reproduced."""

from __future__ import annotations

import csv
import re

import pytest

from evidence import declared
from evidence.running.gather import csv_series, tensorboard_scalars
from evidence.running.measure import max_abs_difference
from tests.conftest import run_program

TOPIC = "logging"
KINDS = ["pytorch", "lightning", "fabric"]
METRICS = ["train_loss_epoch", "train_loss_step", "val_loss"]
PUBLISHED = declared.run(TOPIC).params
"""The headline run's parameters (runs.toml): what the page shows."""
EPOCHS, STEPS_PER_EPOCH = PUBLISHED["epochs"], 7  # 400 training rows in batches of 64: six full batches and one of 16
BATCH_SIZES = [64] * 6 + [16]
LAST_STEPS = [STEPS_PER_EPOCH * (e + 1) - 1 for e in range(EPOCHS)]


@pytest.fixture(scope="module")
def log_root(tmp_path_factory):
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="module")
def results(log_root):
    """Each program's run as the page gathers it (runs.toml), written under ``log_root``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(log_root)
        return {kind: run_program(TOPIC, kind, **PUBLISHED, device="cpu") for kind in KINDS}


def folder(log_root, kind):
    return log_root / {"pytorch": "torch_logs", "lightning": "lightning_logs", "fabric": "fabric_logs"}[kind]


@pytest.mark.parametrize("kind", KINDS)
def test_files_are_written(results, log_root, kind):
    names = results[kind]["files"]
    assert "csv/version_0/metrics.csv" in names
    assert any(re.fullmatch(r"tensorboard/version_0/events\.out\.tfevents\..+", n) for n in names)
    assert ("tensorboard/version_0/hparams.yaml" in names) == (kind == "lightning")
    assert all((folder(log_root, kind) / name).stat().st_size > 0 for name in names if not name.endswith(".yaml"))


@pytest.mark.parametrize("kind", KINDS)
def test_gathered_values_are_what_is_on_disk(results, log_root, kind):
    """The page's series really are the files' contents: re-read the CSV here with the csv module alone."""
    with open(folder(log_root, kind) / "csv" / "version_0" / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for metric in METRICS:
        found = [(int(row["step"]), float(row[metric])) for row in rows if row.get(metric)]
        series = results[kind]["csv"][metric]
        assert found == list(zip(series["step"], series["value"])), metric
    assert sorted(results[kind]["tensorboard"]) == sorted(METRICS + (["epoch"] if kind == "lightning" else []))


@pytest.mark.parametrize("kind", KINDS)
def test_step_numbering(results, kind):
    assert results[kind]["steps"] == EPOCHS * STEPS_PER_EPOCH
    for source in ("csv", "tensorboard"):
        logged = results[kind][source]
        assert logged["train_loss_step"]["step"] == list(range(EPOCHS * STEPS_PER_EPOCH))
        assert logged["train_loss_epoch"]["step"] == LAST_STEPS  # no value from Lightning's sanity check
        assert logged["val_loss"]["step"] == LAST_STEPS


def test_lightning_adds_an_epoch_series(results):
    assert results["lightning"]["tensorboard"]["epoch"]["value"][-1] == EPOCHS - 1
    assert "epoch" in results["lightning"]["csv"]
    for kind in ("pytorch", "fabric"):
        assert "epoch" not in results[kind]["csv"] and "epoch" not in results[kind]["tensorboard"]


@pytest.mark.parametrize("kind", KINDS)
def test_epoch_mean_is_the_batch_size_weighted_mean_of_the_logged_steps(results, kind):
    steps = results[kind]["csv"]["train_loss_step"]["value"]
    for epoch, logged in enumerate(results[kind]["csv"]["train_loss_epoch"]["value"]):
        chunk = steps[epoch * STEPS_PER_EPOCH:(epoch + 1) * STEPS_PER_EPOCH]
        weighted = sum(v * n for v, n in zip(chunk, BATCH_SIZES)) / sum(BATCH_SIZES)
        unweighted = sum(chunk) / STEPS_PER_EPOCH
        assert logged == pytest.approx(weighted, abs=1e-6)
        # the check can tell the two apart: the short last batch moves the plain mean
        assert abs(logged - unweighted) > 1e-4


@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_same_files_content_as_plain_pytorch(results, kind):
    reference = results["pytorch"]
    assert max_abs_difference(results[kind]["state_dict"], reference["state_dict"]) == 0.0
    for source in ("csv", "tensorboard"):
        assert results[kind][source]["train_loss_step"] == reference[source]["train_loss_step"]
        for metric in METRICS:
            assert max_abs_difference(results[kind][source][metric], reference[source][metric]) <= 1e-6
    if kind == "fabric":  # same arithmetic as the plain loop: identical to the last bit
        assert {m: results[kind]["csv"][m] for m in METRICS} == reference["csv"]


def test_tensorboard_keeps_float32(results):
    csv_values = results["pytorch"]["csv"]["train_loss_epoch"]["value"]
    tb_values = results["pytorch"]["tensorboard"]["train_loss_epoch"]["value"]
    assert 0 < max_abs_difference(csv_values, tb_values) <= 1e-6


def test_a_second_run_goes_into_a_new_version_folder(results, log_root, monkeypatch):
    monkeypatch.chdir(log_root)
    run_program(TOPIC, "pytorch", epochs=1, seed=0, device="cpu")
    root = folder(log_root, "pytorch")
    again = csv_series(str(root / "csv" / "version_1" / "metrics.csv"))
    assert len(again["train_loss_step"]["step"]) == STEPS_PER_EPOCH
    assert len(tensorboard_scalars(str(root / "tensorboard" / "version_1"))["train_loss_step"]["step"]) == STEPS_PER_EPOCH
    # the first run's files are untouched
    assert csv_series(str(root / "csv" / "version_0" / "metrics.csv")) == results["pytorch"]["csv"]


def test_lightning_defaults_pinned():
    import pytorch_lightning as pl

    trainer = pl.Trainer(logger=False, enable_progress_bar=False, enable_checkpointing=False,
                         enable_model_summary=False)
    assert trainer.log_every_n_steps == 50  # why the program passes log_every_n_steps=1
