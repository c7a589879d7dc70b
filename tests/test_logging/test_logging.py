"""snippets/logging: CSV and TensorBoard files written, read back from disk, and Lightning's aggregation reproduced."""

from __future__ import annotations

import csv
import re

import pytest

from evidence import declared
from evidence.running.measure import max_abs_difference
from tests.conftest import load_program

TOPIC = "logging"
KINDS = ["pytorch", "lightning", "fabric"]
METRICS = ["train_loss_step", "train_loss_epoch", "val_loss"]
PUBLISHED = declared.run(TOPIC).params
"""The headline run's parameters (runs.toml): what the page shows."""
EPOCHS, STEPS_PER_EPOCH = PUBLISHED["epochs"], 7  # 400 training rows in batches of 64: six full batches and one of 16


@pytest.fixture(scope="module")
def log_root(tmp_path_factory):
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="module")
def results(log_root):
    return {kind: load_program(TOPIC, kind).run(**PUBLISHED, device="cpu", log_dir=str(log_root / kind))
            for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_files_are_written_and_listed(results, log_root, kind):
    files = results[kind]["files"]
    names = [f["name"] for f in files]
    assert "csv/version_0/metrics.csv" in names
    assert any(re.fullmatch(r"tensorboard/version_0/events\.out\.tfevents\..+", n) for n in names)
    for entry in files:
        path = log_root / kind / entry["name"]
        assert path.is_file() and path.stat().st_size == entry["bytes"] > 0
    assert ("tensorboard/version_0/hparams.yaml" in names) == (kind == "lightning")


@pytest.mark.parametrize("kind", KINDS)
def test_values_read_back_match_the_files(results, log_root, kind):
    """The returned series really are what is on disk: re-read the CSV here, independently."""
    with open(log_root / kind / "csv" / "version_0" / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    found = {m: [] for m in METRICS}
    for row in rows:
        if kind == "pytorch":
            found[row["metric"]].append((int(row["step"]), float(row["value"])))
        else:
            for m in METRICS:
                if row.get(m):
                    found[m].append((int(row["step"]), float(row[m])))
    for m in METRICS:
        series = results[kind]["csv"][m]
        assert found[m] == list(zip(series["step"], series["value"])), m
    assert results[kind]["history"]["val_loss"] == results[kind]["csv"]["val_loss"]["value"]


@pytest.mark.parametrize("kind", KINDS)
def test_step_numbering(results, kind):
    for source in ("csv", "tensorboard"):
        logged = results[kind][source]
        assert logged["train_loss_step"]["step"] == list(range(EPOCHS * STEPS_PER_EPOCH))
        last_steps = [STEPS_PER_EPOCH * (e + 1) - 1 for e in range(EPOCHS)]
        assert logged["train_loss_epoch"]["step"] == last_steps
        assert logged["val_loss"]["step"] == last_steps


def test_lightning_adds_an_epoch_series_and_suffixes(results):
    assert results["lightning"]["csv_columns"] == ["epoch", "step", *sorted(METRICS)]
    assert results["lightning"]["tensorboard_tags"] == ["epoch", *sorted(METRICS)]
    assert results["fabric"]["tensorboard_tags"] == sorted(METRICS)
    assert results["pytorch"]["tensorboard_tags"] == sorted(METRICS)


@pytest.mark.parametrize("kind", KINDS)
def test_epoch_mean_is_the_batch_size_weighted_mean_of_the_logged_steps(results, kind):
    steps = results[kind]["csv"]["train_loss_step"]["value"]
    sizes = results[kind]["batch_sizes"]
    assert sizes == ([64] * 6 + [16]) * EPOCHS
    for epoch, logged in enumerate(results[kind]["csv"]["train_loss_epoch"]["value"]):
        chunk = slice(epoch * STEPS_PER_EPOCH, (epoch + 1) * STEPS_PER_EPOCH)
        weighted = sum(v * n for v, n in zip(steps[chunk], sizes[chunk])) / sum(sizes[chunk])
        unweighted = sum(steps[chunk]) / STEPS_PER_EPOCH
        assert logged == pytest.approx(weighted, abs=1e-6)
        # the check can tell the two apart: the short last batch moves the plain mean
        assert abs(logged - unweighted) > 1e-4


@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_same_files_content_as_plain_pytorch(results, kind):
    reference = results["pytorch"]
    assert max_abs_difference(results[kind]["state_dict"], reference["state_dict"]) == 0.0
    for source in ("csv", "tensorboard"):
        assert results[kind][source]["train_loss_step"] == reference[source]["train_loss_step"]
        assert max_abs_difference(results[kind][source], reference[source]) <= 1e-6
    if kind == "fabric":  # same arithmetic as the plain loop: identical to the last bit
        assert results[kind]["csv"] == reference["csv"]


def test_a_second_run_goes_into_a_new_version_folder(results, log_root):
    again = load_program(TOPIC, "pytorch").run(epochs=1, seed=0, device="cpu", log_dir=str(log_root / "pytorch"))
    assert {f["name"].split("/")[1] for f in again["files"]} == {"version_1"}
    assert len(again["csv"]["train_loss_step"]["step"]) == STEPS_PER_EPOCH


def test_lightning_defaults_pinned():
    import pytorch_lightning as pl

    trainer = pl.Trainer(logger=False, enable_progress_bar=False, enable_checkpointing=False,
                         enable_model_summary=False)
    assert trainer.log_every_n_steps == 50  # why the program passes log_every_n_steps=1
