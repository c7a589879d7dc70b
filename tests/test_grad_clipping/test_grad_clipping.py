"""snippets/grad_clipping: clipping by norm and by value, gradients measured before clipping, parity, command lines."""

from __future__ import annotations

import pytest

from evidence.running.measure import max_abs_difference
from tests.conftest import load_program

TOPIC = "grad_clipping"
KINDS = ["pytorch", "lightning", "fabric"]
EPOCHS = 2  # 409 training samples in batches of 32: 13 steps per epoch
CLIP = {"norm": 0.2, "value": 0.05}


@pytest.fixture(scope="module")
def results():
    return {(kind, algorithm): load_program(TOPIC, kind).run(epochs=EPOCHS, seed=0, device="cpu",
                                                             algorithm=algorithm, clip_val=clip_val)
            for algorithm, clip_val in CLIP.items() for kind in KINDS}


@pytest.mark.parametrize("algorithm", list(CLIP))
@pytest.mark.parametrize("kind", KINDS)
def test_run_records_gradients_at_every_step(results, kind, algorithm):
    result = results[kind, algorithm]
    assert result["steps"] == EPOCHS * 13
    assert len(result["grad_norm"]) == len(result["grad_max"]) == result["steps"]
    assert all(largest <= norm for largest, norm in zip(result["grad_max"], result["grad_norm"]))
    assert result["history"]["val_loss"][-1] < result["history"]["val_loss"][0]


@pytest.mark.parametrize("algorithm", list(CLIP))
@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_weights_and_gradient_norms_match_plain_pytorch(results, kind, algorithm):
    reference = results["pytorch", algorithm]
    assert max_abs_difference(results[kind, algorithm]["state_dict"], reference["state_dict"]) == 0.0
    assert max_abs_difference(results[kind, algorithm]["grad_norm"], reference["grad_norm"]) <= 1e-6
    assert max_abs_difference(results[kind, algorithm]["grad_max"], reference["grad_max"]) <= 1e-6


@pytest.mark.parametrize("kind", KINDS)
def test_norms_are_measured_before_clipping(results, kind):
    """Measured after clipping by norm, no value could exceed the threshold."""
    norms = results[kind, "norm"]["grad_norm"]
    assert sum(norm > CLIP["norm"] for norm in norms) > len(norms) // 2
    largest = results[kind, "value"]["grad_max"]
    assert sum(value > CLIP["value"] for value in largest) > len(largest) // 2


@pytest.mark.parametrize("algorithm", list(CLIP))
def test_clipping_changes_the_weights(results, algorithm):
    """A threshold far above every gradient leaves them alone; the real threshold does not."""
    unclipped = load_program(TOPIC, "pytorch").run(epochs=EPOCHS, seed=0, device="cpu", algorithm=algorithm,
                                                   clip_val=1e9)
    assert max_abs_difference(unclipped["state_dict"], results["pytorch", algorithm]["state_dict"]) > 1e-3
    assert max_abs_difference(unclipped["state_dict"], results["lightning", algorithm]["state_dict"]) > 1e-3


def test_the_two_algorithms_differ(results):
    assert max_abs_difference(results["pytorch", "norm"]["state_dict"],
                              results["pytorch", "value"]["state_dict"]) > 1e-3
