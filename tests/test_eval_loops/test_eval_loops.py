"""snippets/eval_loops: validation/test/predict loops, their parity, and the eval-mode / no-grad check."""

from __future__ import annotations

import pytest
import torch

from evidence import declared
from evidence.running.measure import max_abs_difference
from tests.conftest import load_program

TOPIC = "eval_loops"
KINDS = ["pytorch", "lightning", "fabric"]
STAGES = ["val", "validate", "test", "predict"]
PUBLISHED = declared.run(TOPIC).params
"""The headline run's parameters (runs.toml): what the page shows."""
STEPS_PER_EPOCH = 13  # 396 training rows in batches of 32


@pytest.fixture(scope="module")
def results():
    return {kind: load_program(TOPIC, kind).run(**PUBLISHED, device="cpu") for kind in KINDS}


@pytest.fixture(scope="module")
def without_eval():
    """Every program run with ``Module.eval`` disabled: a loop that forgets eval mode."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch.nn.Module, "eval", lambda self: self)
        return {kind: load_program(TOPIC, kind).run(**PUBLISHED, device="cpu") for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_run_validates_tests_and_predicts(results, kind):
    result = results[kind]
    assert len(result["history"]["val_loss"]) == PUBLISHED["epochs"]
    assert result["history"]["val_loss"][-1] < result["history"]["val_loss"][0]
    assert result["steps"] == PUBLISHED["epochs"] * STEPS_PER_EPOCH
    assert len(result["predictions"]) == 40
    assert torch.allclose(torch.as_tensor(result["predictions"]).sum(dim=1), torch.ones(40))
    assert result["test_acc"] > 0.8
    # the separate validation pass after training sees the same weights as the last epoch's
    assert result["final_val_loss"] == pytest.approx(result["history"]["val_loss"][-1], abs=1e-6)


def test_splits_are_disjoint():
    train, val, test, new = load_program(TOPIC, "pytorch").make_data(seed=0)
    assert (len(train), len(val), len(test), len(new)) == (396, 102, 102, 40)
    assert len(val) % 32 == 6  # the page: the last validation batch holds 6 rows
    rows = [{tuple(r.tolist()) for r in part.tensors[0]} for part in (train, val, test, new)]
    for i in range(4):
        for j in range(i + 1, 4):
            assert not rows[i] & rows[j]


@pytest.mark.parametrize("kind", KINDS)
def test_eval_mode_and_no_grad_in_every_evaluation_pass(results, kind):
    assert set(results[kind]["modes"]) == set(STAGES)
    for stage in STAGES:
        assert results[kind]["modes"][stage] == {"training": [False], "grad_enabled": [False]}, stage
    assert results[kind]["repeat_difference"] == 0.0


def test_lightning_uses_inference_mode_outside_fit_only(results):
    assert results["lightning"]["inference_mode"] == {"val": [False], "validate": [True], "test": [True],
                                                      "predict": [True]}
    for kind in ("pytorch", "fabric"):
        assert results[kind]["inference_mode"] == {stage: [False] for stage in STAGES}


@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_same_numbers_as_plain_pytorch(results, kind):
    reference = results["pytorch"]
    assert max_abs_difference(results[kind]["state_dict"], reference["state_dict"]) == 0.0
    assert max_abs_difference(results[kind]["predictions"], reference["predictions"]) == 0.0
    assert results[kind]["modes"] == reference["modes"]
    for key in ("history", "final_val_loss", "test_loss", "test_acc"):
        assert max_abs_difference(results[kind][key], reference[key]) <= 1e-6, key


@pytest.mark.parametrize("kind", KINDS)
def test_the_check_catches_a_loop_that_forgets_eval_mode(results, without_eval, kind):
    broken = without_eval[kind]
    for stage in STAGES:
        assert broken["modes"][stage]["training"] == [True], stage
    # dropout and batch-statistics normalisation make two passes over the same rows disagree
    assert broken["repeat_difference"] > 1e-3
    assert max_abs_difference(broken["predictions"], results[kind]["predictions"]) > 1e-3
    # training itself is untouched up to the first validation; the validation loss is not
    assert broken["history"]["train_loss"][0] == results[kind]["history"]["train_loss"][0]
    assert abs(broken["history"]["val_loss"][0] - results[kind]["history"]["val_loss"][0]) > 1e-4


def test_lightning_hook_that_skips_eval_is_caught(results, monkeypatch):
    module = load_program(TOPIC, "lightning")
    monkeypatch.setattr(module.Classifier, "on_predict_model_eval", lambda self: None)
    broken = module.run(epochs=2, seed=0, device="cpu")
    assert broken["modes"]["predict"]["training"] == [True]
    assert broken["modes"]["test"]["training"] == [False]
    assert broken["repeat_difference"] > 1e-3
