"""snippets/debugging: each debugging switch against its hand-written equivalent, and the injected NaN."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
import torch

from evidence import declared
from evidence.running.measure import max_abs_difference
from tests.conftest import load_program

TOPIC = "debugging"
KINDS = ["pytorch", "lightning", "fabric"]
SWITCHES = {
    "normal": ({}, (26, 8)),  # 2 epochs of 13 training and 4 validation batches
    "fast_dev_run": ({"fast_dev_run": True}, (1, 1)),
    "overfit_batches": ({"overfit_batches": 2}, (4, 4)),
    "limits": ({"limit_train_batches": 3, "limit_val_batches": 1}, (6, 2)),
}


@pytest.fixture(scope="module")
def results():
    return {(name, kind): load_program(TOPIC, kind).run(epochs=2, seed=0, device="cpu", **kwargs)
            for name, (kwargs, _) in SWITCHES.items() for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_anomaly_detection_at_the_published_configuration(kind):
    params = declared.run(TOPIC, "detect_anomaly").params
    result = load_program(TOPIC, kind).run(**params, device="cpu")
    assert result["caught"]["step"] == params["inject_nan_at_step"] and result["caught"]["epoch"] == 1
    assert result["steps"] == params["inject_nan_at_step"] - 1 and result["nan_weights"] is False


@pytest.fixture(scope="module")
def nan_results():
    return {kind: load_program(TOPIC, kind).run(epochs=2, seed=0, device="cpu", detect_anomaly=True,
                                                inject_nan_at_step=16) for kind in KINDS}


@pytest.mark.parametrize("name", SWITCHES)
@pytest.mark.parametrize("kind", KINDS)
def test_each_switch_runs_the_expected_number_of_batches(results, name, kind):
    result = results[(name, kind)]
    assert (result["train_batches"], result["val_batches"]) == SWITCHES[name][1]
    assert result["steps"] == SWITCHES[name][1][0]
    assert result["caught"] is None and result["nan_weights"] is False


@pytest.mark.parametrize("name", SWITCHES)
@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_weights_identical_to_plain_pytorch_in_every_mode(results, name, kind):
    assert max_abs_difference(results[(name, kind)]["state_dict"], results[(name, "pytorch")]["state_dict"]) == 0.0
    assert max_abs_difference(results[(name, kind)]["history"], results[(name, "pytorch")]["history"]) <= 1e-6


def test_overfit_trains_the_same_batches_every_epoch():
    # with a fixed subset the training loss only falls; reshuffled limited batches make it jump around
    overfit = load_program(TOPIC, "pytorch").run(epochs=6, seed=0, device="cpu", overfit_batches=1, lr=1e-2)
    losses = overfit["history"]["train_loss"]
    assert all(b < a for a, b in zip(losses, losses[1:]))


def test_modes_really_differ(results):
    # the check above would pass trivially if the switches did nothing
    normal = results[("normal", "pytorch")]["state_dict"]
    for name in ("fast_dev_run", "overfit_batches", "limits"):
        assert max_abs_difference(results[(name, "pytorch")]["state_dict"], normal) > 0


@pytest.mark.parametrize("kind", KINDS)
def test_anomaly_detection_catches_the_injected_nan_at_the_same_step(nan_results, kind):
    caught = nan_results[kind]["caught"]
    assert caught is not None
    assert (caught["step"], caught["epoch"]) == (16, 2)  # step 16 is the 3rd batch of epoch 2
    assert caught["error"] == "Function 'SqrtBackward0' returned nan values in its 0th output."
    assert caught["forward_call"].endswith("loss = torch.sqrt(-loss)")
    assert nan_results[kind]["steps"] == 15 and nan_results[kind]["train_batches"] == 15
    assert nan_results[kind]["nan_weights"] is False  # stopped before the optimizer step


@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_weights_at_the_catch_identical_to_plain_pytorch(nan_results, kind):
    assert max_abs_difference(nan_results[kind]["state_dict"], nan_results["pytorch"]["state_dict"]) == 0.0


@pytest.mark.parametrize("kind", KINDS)
def test_without_anomaly_detection_the_nan_spreads_silently(kind):
    """The page, at its configuration: the run finishes and every weight becomes NaN."""
    result = load_program(TOPIC, kind).run(**declared.run(TOPIC, "silent_nan").params, device="cpu")
    assert result["caught"] is None
    assert result["nan_weights"] is True and result["steps"] == 13
    assert all(bool(value.isnan().all()) for value in result["state_dict"].values())
    assert all(loss != loss for loss in result["history"]["train_loss"])  # nan


def test_overfit_batches_validates_on_the_first_batches_of_the_validation_loader(monkeypatch):
    """The page's claim for Lightning 2.6.6, at the page's configuration: not on training batches."""
    params = declared.run(TOPIC, "overfit_batches").params
    program = load_program(TOPIC, "lightning")
    seen = []
    validation_step = program.Classifier.validation_step

    def recording(self, batch, batch_idx):
        seen.append(batch[0].detach().cpu().clone())
        return validation_step(self, batch, batch_idx)

    monkeypatch.setattr(program.Classifier, "validation_step", recording)
    program.run(**params, device="cpu")
    train_set, val_set = program.make_data(params["seed"])
    n = params["overfit_batches"]
    expected = [val_set.tensors[0][32 * i:32 * (i + 1)] for i in range(n)] * params["epochs"]
    assert len(seen) == len(expected) and all(torch.equal(a, b) for a, b in zip(seen, expected))
    train_batches = [train_set.tensors[0][32 * i:32 * (i + 1)] for i in range(n)]
    assert not any(torch.equal(a, b) for a in seen for b in train_batches)


@pytest.mark.parametrize("name, extra", [("normal", 2), ("limits", 1)])
def test_the_sanity_check_would_add_validation_batches(results, monkeypatch, name, extra):
    """Why the Lightning program sets num_sanity_val_steps=0 (the page's note on defaults)."""
    program = load_program(TOPIC, "lightning")
    trainer = program.pl.Trainer

    def with_sanity_check(*args, **kwargs):
        kwargs.pop("num_sanity_val_steps")
        return trainer(*args, **kwargs)

    monkeypatch.setattr(program.pl, "Trainer", with_sanity_check)
    result = program.run(epochs=2, seed=0, device="cpu", **SWITCHES[name][0])
    assert result["val_batches"] == results[(name, "pytorch")]["val_batches"] + extra
    assert max_abs_difference(result["state_dict"], results[(name, "pytorch")]["state_dict"]) == 0.0


def test_the_page_calls_only_views_that_exist():
    page = Path(__file__).resolve().parents[2] / "gallery/topics/18_debugging" / "plot_debugging.py"
    views = importlib.import_module("evidence.views.topics.debugging")
    called = set(re.findall(r"\bviews\.(\w+)\(", page.read_text()))
    assert called and all(hasattr(views, name) for name in called), called
