"""snippets/debugging: each debugging switch against its hand-written equivalent, and the injected NaN."""

from __future__ import annotations

import pytest
import torch

from evidence import declared
from evidence.running.measure import max_abs_difference
from tests.conftest import load_program, run_program

TOPIC = "debugging"
KINDS = ["pytorch", "lightning", "fabric"]
SWITCHES = {  # run() arguments, (training batches, validation batches) over 2 epochs, sanity-check batches
    "normal": ({}, (26, 8), 2),  # 13 training and 4 validation batches an epoch
    "fast_dev_run": ({"fast_dev_run": True}, (1, 1), 0),
    "overfit_batches": ({"overfit_batches": 2}, (4, 4), 2),
    "limits": ({"limit_train_batches": 3, "limit_val_batches": 1}, (6, 2), 1),
}


def counted_run(kind: str, **params) -> dict:
    """run_program with the network's forward passes counted by mode (training, evaluation)."""
    program = load_program(TOPIC, kind)
    counts = {"train": 0, "eval": 0}

    def build_model():
        model = original()
        model.register_forward_pre_hook(lambda m, args: counts.__setitem__(
            "train" if m.training else "eval", counts["train" if m.training else "eval"] + 1))
        return model

    original = program.build_model
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(program, "build_model", build_model)
        result = run_program(TOPIC, kind, **params)
    return {**result, "forwards": counts}


@pytest.fixture(scope="module")
def results():
    return {(name, kind): counted_run(kind, epochs=2, seed=0, device="cpu", **kwargs)
            for name, (kwargs, _, _) in SWITCHES.items() for kind in KINDS}


@pytest.mark.parametrize("name", SWITCHES)
@pytest.mark.parametrize("kind", KINDS)
def test_each_switch_runs_the_expected_batches(results, name, kind):
    result = results[(name, kind)]
    (train, val), sanity = SWITCHES[name][1], SWITCHES[name][2]
    assert result["steps"] == result["forwards"]["train"] == train
    # Lightning's sanity check (on by default, skipped by fast_dev_run) runs validation batches of its own
    assert result["forwards"]["eval"] == val + (sanity if kind == "lightning" else 0)
    assert result["anomaly"] is None


@pytest.mark.parametrize("name", SWITCHES)
@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_weights_and_losses_match_plain_pytorch_in_every_mode(results, name, kind):
    assert max_abs_difference(results[(name, kind)]["state_dict"], results[(name, "pytorch")]["state_dict"]) == 0.0
    assert max_abs_difference(results[(name, kind)]["history"], results[(name, "pytorch")]["history"]) <= 1e-6


def test_modes_really_differ(results):
    # the checks above would pass trivially if the switches did nothing
    normal = results[("normal", "pytorch")]
    for name in ("fast_dev_run", "overfit_batches", "limits"):
        assert max_abs_difference(results[(name, "pytorch")]["state_dict"], normal["state_dict"]) > 0
        assert results[(name, "pytorch")]["history"]["val_loss"] != normal["history"]["val_loss"]


def test_overfit_trains_the_same_batches_every_epoch():
    # with a fixed subset the training loss only falls; reshuffled limited batches make it jump around
    overfit = run_program(TOPIC, "pytorch", epochs=6, seed=0, device="cpu", overfit_batches=1)
    losses = overfit["history"]["train_loss"]
    assert all(b < a for a, b in zip(losses, losses[1:]))
    limited = run_program(TOPIC, "pytorch", epochs=6, seed=0, device="cpu", limit_train_batches=1)
    losses = limited["history"]["train_loss"]
    assert not all(b < a for a, b in zip(losses, losses[1:]))


@pytest.mark.parametrize("kind", KINDS)
def test_anomaly_detection_stops_in_the_backward_pass_of_the_injected_step(kind):
    params = declared.run(TOPIC, "detect_anomaly").params
    with pytest.warns(UserWarning, match="Error detected in SqrtBackward0") as seen:
        result = run_program(TOPIC, kind, **params, device="cpu")
    assert result["steps"] == params["inject_nan_at_step"] - 1
    assert result["anomaly"] == "Function 'SqrtBackward0' returned nan values in its 0th output."
    assert all(bool(v.isfinite().all()) for v in result["state_dict"].values())  # stopped before the step
    # the warning's traceback ends at the forward line that made the NaN, as the page says
    trace = next(str(w.message) for w in seen if "Error detected in" in str(w.message))
    code = [line.strip() for line in trace.splitlines() if line.startswith("    ")]
    assert code[-1] == "loss = torch.sqrt(-loss)"
    reference = run_program(TOPIC, "pytorch", epochs=1, seed=0, device="cpu", limit_train_batches=6)
    assert max_abs_difference(result["state_dict"], reference["state_dict"]) == 0.0


@pytest.mark.parametrize("kind", KINDS)
def test_without_anomaly_detection_the_nan_spreads_silently(kind):
    """The page, at its configuration: the run finishes and every weight becomes NaN."""
    result = run_program(TOPIC, kind, **declared.run(TOPIC, "silent_nan").params, device="cpu")
    assert result["anomaly"] is None and result["steps"] == 13
    assert all(bool(value.isnan().all()) for value in result["state_dict"].values())
    assert all(loss != loss for losses in result["history"].values() for loss in losses)  # nan


def test_overfit_batches_validates_on_the_first_batches_of_the_validation_loader(monkeypatch):
    """The page's claim for Lightning 2.6.6, at the page's configuration: not on training batches."""
    params = {**declared.run(TOPIC).params, **declared.run(TOPIC, "overfit_batches").params}
    program = load_program(TOPIC, "lightning")
    seen = []
    validation_step = program.Classifier.validation_step

    def recording(self, batch, batch_idx):
        if not self.trainer.sanity_checking:
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
