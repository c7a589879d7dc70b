"""snippets/callbacks: the recorded values of the inline code, the Lightning callback and the Fabric callback."""

from __future__ import annotations

import pytest
import torch

from evidence import declared
from evidence.running.measure import max_abs_difference
from tests.conftest import load_program, run_program

TOPIC = "callbacks"
KINDS = ["pytorch", "lightning", "fabric"]
PUBLISHED = declared.run(TOPIC).params
"""The headline run's parameters (runs.toml): what the page shows."""
EPOCHS = PUBLISHED["epochs"]
STEPS_PER_EPOCH = 13  # 409 training samples in batches of 32


@pytest.fixture(scope="module")
def results():
    return {kind: run_program(TOPIC, kind, **PUBLISHED, device="cpu") for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_one_gradient_norm_per_step_and_one_weight_norm_per_epoch(results, kind):
    """Lightning's sanity-check validation (on by default) takes no optimizer step and adds no norm."""
    result = results[kind]
    assert result["steps"] == EPOCHS * STEPS_PER_EPOCH
    assert len(result["grad_norms"]) == len(result["step_losses"]) == result["steps"]
    assert len(result["weight_norms"]) == len(result["history"]["val_loss"]) == EPOCHS
    assert all(norm > 0 for norm in result["grad_norms"])


@pytest.mark.parametrize("kind", ["lightning", "fabric"])
@pytest.mark.parametrize("path", ["grad_norms", "weight_norms", "step_losses", "state_dict"])
def test_recorded_values_and_weights_identical_to_plain_pytorch(results, kind, path):
    assert max_abs_difference(results[kind][path], results["pytorch"][path]) == 0.0


@pytest.mark.parametrize("kind", KINDS)
def test_first_gradient_norm_is_that_of_the_first_batch_before_the_update(results, kind):
    """Recomputed here, independently: the hook must fire after backward and before step."""
    program = load_program(TOPIC, "pytorch")
    torch.manual_seed(0)
    train_set, _ = program.make_data(0)
    model = program.build_model()
    loader = torch.utils.data.DataLoader(train_set, batch_size=32, shuffle=True,
                                         generator=torch.Generator().manual_seed(0))
    x, y = next(iter(loader))
    torch.nn.functional.cross_entropy(model(x), y).backward()
    expected = torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in model.parameters()])).item()
    assert results[kind]["grad_norms"][0] == pytest.approx(expected, rel=1e-6)
    # after one update the gradients are those of different weights: a hook that fired late
    # (after optimizer.step and a new backward) would not reproduce the number above
    assert results[kind]["grad_norms"][1] != pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize("kind", KINDS)
def test_last_weight_norm_matches_the_returned_weights(results, kind):
    state = results[kind]["state_dict"]
    expected = torch.linalg.vector_norm(torch.cat([v.flatten() for v in state.values()])).item()
    assert results[kind]["weight_norms"][-1] == pytest.approx(expected, rel=1e-6)


def test_lightning_callback_and_hook_are_the_recording_mechanism():
    program = load_program(TOPIC, "lightning")
    import pytorch_lightning as pl

    assert issubclass(program.NormTracker, pl.Callback)
    assert "on_before_optimizer_step" in vars(program.NormTracker)
    assert "on_train_batch_end" in vars(program.Classifier)


def test_fabric_calls_its_callbacks_by_name():
    from lightning_fabric import Fabric

    tracker = load_program(TOPIC, "fabric").NormTracker()
    model = torch.nn.Linear(2, 1)
    model(torch.ones(1, 2)).sum().backward()
    fabric = Fabric(accelerator="cpu", devices=1, callbacks=[tracker])
    fabric.call("on_before_optimizer_step", model=model, optimizer=None)
    fabric.call("on_train_epoch_end", model=model)
    fabric.call("a_hook_nobody_implements", model=model)
    assert [norm.item() for norm in tracker.grad_norms] == [pytest.approx(3 ** 0.5)]  # weight grads (1, 1), bias grad 1
    assert len(tracker.weight_norms) == 1


def test_different_seed_gives_different_norms(results):
    other = run_program(TOPIC, "pytorch", epochs=1, seed=1, device="cpu")
    assert other["grad_norms"][0] != results["pytorch"]["grad_norms"][0]
