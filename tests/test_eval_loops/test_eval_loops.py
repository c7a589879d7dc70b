"""snippets/eval_loops: validation/test/predict loops, their parity, and the modes every evaluation pass ran in."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from evidence import declared
from evidence.programs import program_path
from evidence.running import trace
from evidence.running.measure import max_abs_difference
from tests.conftest import load_program, run_program

TOPIC = "eval_loops"
KINDS = ["pytorch", "lightning", "fabric"]
PUBLISHED = declared.run(TOPIC).params
"""The headline run's parameters (runs.toml): what the page shows."""
EPOCHS = PUBLISHED["epochs"]
STEPS_PER_EPOCH = 13  # 396 training rows in batches of 32


def recorded(kind: str, **params) -> tuple[dict, list[dict]]:
    """The program's result and the forward passes the call recorder saw (as the page's table counts them)."""
    with trace.Recorder(program_path(TOPIC, kind)) as recorder:
        result = run_program(TOPIC, kind, **{**PUBLISHED, "device": "cpu", **params})
    return result, [e for e in recorder.events if e["op"] == "forward"]


@pytest.fixture(scope="module")
def results():
    return {kind: recorded(kind) for kind in KINDS}


@pytest.fixture(scope="module")
def without_eval():
    """Every program run with ``Module.eval`` disabled: a loop that forgets eval mode."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch.nn.Module, "eval", lambda self: self)
        return {kind: run_program(TOPIC, kind, **PUBLISHED, device="cpu") for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_run_validates_tests_and_predicts(results, kind):
    result, _ = results[kind]
    assert len(result["history"]["val_loss"]) == EPOCHS
    assert result["history"]["val_loss"][-1] < result["history"]["val_loss"][0]
    assert result["steps"] == EPOCHS * STEPS_PER_EPOCH
    predictions = torch.as_tensor(result["predictions"])
    assert predictions.shape == (40, 2)
    assert torch.allclose(predictions.sum(dim=1), torch.ones(40))
    assert result["test_acc"] > 0.9  # the page's declared check "learned"


def test_splits_are_disjoint():
    train, val, test, new = load_program(TOPIC, "pytorch").make_data(seed=0)
    assert (len(train), len(val), len(test), len(new)) == (396, 102, 102, 40)
    assert len(val) % 32 == 6  # the page: the last validation batch holds 6 rows
    rows = [{tuple(r.tolist()) for r in part.tensors[0]} for part in (train, val, test, new)]
    for i in range(4):
        for j in range(i + 1, 4):
            assert not rows[i] & rows[j]


def test_modes_of_every_forward_pass(results):
    """The page's mode table: training in train mode with grad, every evaluation pass in eval mode
    without it; Lightning's test and predict under inference_mode, its validation during fit under no_grad."""
    seen = {kind: Counter((e["by"], e["mode"], e["grad"]) for e in forwards) for kind, (_, forwards) in results.items()}
    evaluated = EPOCHS * 4 + 4  # 4 validation batches after each epoch, 4 test batches
    for kind in ("pytorch", "fabric"):
        assert seen[kind] == {("run", "train", "grad"): EPOCHS * STEPS_PER_EPOCH,
                              ("evaluate", "eval", "no_grad"): evaluated, ("predict", "eval", "no_grad"): 2}
    assert seen["lightning"] == {("training_step", "train", "grad"): EPOCHS * STEPS_PER_EPOCH,
                                 ("validation_step", "eval", "no_grad"): 2 + EPOCHS * 4,  # with the sanity check
                                 ("test_step", "eval", "inference_mode"): 4,
                                 ("predict_step", "eval", "inference_mode"): 2}


@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_same_numbers_as_plain_pytorch(results, kind):
    reference, _ = results["pytorch"]
    result, _ = results[kind]
    assert max_abs_difference(result["state_dict"], reference["state_dict"]) == 0.0
    assert max_abs_difference(result["predictions"], reference["predictions"]) == 0.0
    for key in ("history", "test_loss", "test_acc"):
        assert max_abs_difference(result[key], reference[key]) <= 1e-6, key


@pytest.mark.parametrize("kind", KINDS)
def test_the_comparison_catches_a_loop_that_forgets_eval_mode(results, without_eval, kind):
    broken, (good, _) = without_eval[kind], results[kind]
    # dropout and batch statistics change the predictions
    assert max_abs_difference(broken["predictions"], good["predictions"]) > 1e-3
    # training itself is untouched up to the first validation; the validation loss is not
    assert broken["history"]["train_loss"][0] == good["history"]["train_loss"][0]
    assert abs(broken["history"]["val_loss"][0] - good["history"]["val_loss"][0]) > 1e-4
    # batch norm's running statistics moved during the evaluation passes
    running = {k: v for k, v in good["state_dict"].items() if "running" in k}
    assert running and max_abs_difference({k: broken["state_dict"][k] for k in running}, running) > 1e-3


def test_a_lightning_hook_that_skips_eval_is_caught(results, monkeypatch):
    module = load_program(TOPIC, "lightning")
    monkeypatch.setattr(module.Classifier, "on_predict_model_eval", lambda self: None)
    broken, forwards = recorded("lightning")
    assert {e["mode"] for e in forwards if e["by"] == "predict_step"} == {"train"}
    assert {e["mode"] for e in forwards if e["by"] == "test_step"} == {"eval"}
    assert max_abs_difference(broken["predictions"], results["lightning"][0]["predictions"]) > 1e-3
