"""snippets/grad_clipping: clipping by norm and by value, gradients measured before clipping, parity, command lines."""

from __future__ import annotations

import pytest
import torch

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


# -- clipping by hand while the Trainer clips: where it clips twice and where it does not ---------------------
# Lightning 2.6.6 runs, per optimizer step: training_step, zero_grad, backward
# (loops/optimization/automatic.py, Closure.closure), then on_before_optimizer_step, then
# configure_gradient_clipping, whose default calls self.clip_gradients with the Trainer's
# gradient_clip_val (plugins/precision/precision.py, _after_closure), then the optimizer step.

def _clip_value_by_hand(module, threshold=CLIP["value"]):
    torch.nn.utils.clip_grad_value_(module.parameters(), clip_value=threshold)


def _lightning_with(monkeypatch, hooks):
    """The Lightning program with its Classifier replaced by a subclass: ``hooks(Classifier)`` gives the
    methods it overrides."""
    lightning = load_program(TOPIC, "lightning")
    base = lightning.Classifier
    monkeypatch.setattr(lightning, "Classifier", type("Patched", (base,), hooks(base)))
    return lightning


def test_clipping_by_hand_in_training_step_changes_nothing(monkeypatch, results):
    """Under automatic optimization the step's gradients do not exist yet in training_step. The first step
    of each epoch finds none (Lightning sets them to None before validating: on_validation_model_zero_grad,
    loops/training_epoch_loop.py); the others find the previous step's, which zero_grad discards before
    backward. Clipping them, even to 1e-6, leaves the weights as the Trainer's clipping alone makes them."""
    seen = []

    def hooks(base):
        def training_step(self, batch, batch_idx):
            loss = base.training_step(self, batch, batch_idx)
            seen.append(all(p.grad is None for p in self.parameters()))
            if not seen[-1]:
                _clip_value_by_hand(self, 1e-6)
            return loss
        return {"training_step": training_step}

    lightning = _lightning_with(monkeypatch, hooks)
    clipped = lightning.run(epochs=EPOCHS, seed=0, device="cpu", algorithm="norm", clip_val=CLIP["norm"])
    assert [i for i, none in enumerate(seen) if none] == [13 * epoch for epoch in range(EPOCHS)]
    assert max_abs_difference(clipped["state_dict"], results["lightning", "norm"]["state_dict"]) == 0.0


def test_manual_optimization_refuses_gradient_clip_val(monkeypatch):
    from pytorch_lightning.utilities.exceptions import MisconfigurationException

    def hooks(base):
        def __init__(self, *args, **kwargs):
            base.__init__(self, *args, **kwargs)
            self.automatic_optimization = False
        return {"__init__": __init__}

    lightning = _lightning_with(monkeypatch, hooks)
    with pytest.raises(MisconfigurationException, match="Automatic gradient clipping is not supported for manual"):
        lightning.run(epochs=1, seed=0, device="cpu", algorithm="norm", clip_val=CLIP["norm"])


def _plain_value_then_norm(monkeypatch):
    """The plain program clipping each element at CLIP['value'] and then the norm at CLIP['norm']."""
    plain = load_program(TOPIC, "pytorch")
    clip_norm = torch.nn.utils.clip_grad_norm_

    def twice(parameters, max_norm):
        parameters = list(parameters)
        torch.nn.utils.clip_grad_value_(parameters, clip_value=CLIP["value"])
        return clip_norm(parameters, max_norm=max_norm)

    with monkeypatch.context() as patch:
        patch.setattr(torch.nn.utils, "clip_grad_norm_", twice)
        return plain.run(epochs=EPOCHS, seed=0, device="cpu", algorithm="norm", clip_val=CLIP["norm"])


def test_clipping_by_hand_in_on_before_optimizer_step_clips_twice(monkeypatch, results):
    """The hand clip runs first, then the Trainer clips again: the plain loop that clips by value and
    then by norm gets the same weights, and both thresholds hold at every step."""
    after = []

    def hooks(base):
        def on_before_optimizer_step(self, optimizer):
            base.on_before_optimizer_step(self, optimizer)
            _clip_value_by_hand(self)

        def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None):
            base.configure_gradient_clipping(self, optimizer, gradient_clip_val, gradient_clip_algorithm)
            grads = [p.grad for p in self.parameters()]
            after.append((torch.nn.utils.get_total_norm(grads).item(),
                          torch.nn.utils.get_total_norm(grads, norm_type=float("inf")).item()))
        return {"on_before_optimizer_step": on_before_optimizer_step,
                "configure_gradient_clipping": configure_gradient_clipping}

    lightning = _lightning_with(monkeypatch, hooks)
    twice = lightning.run(epochs=EPOCHS, seed=0, device="cpu", algorithm="norm", clip_val=CLIP["norm"])
    assert all(norm <= CLIP["norm"] * (1 + 1e-6) and largest <= CLIP["value"] for norm, largest in after)
    assert max_abs_difference(twice["state_dict"], _plain_value_then_norm(monkeypatch)["state_dict"]) == 0.0
    for algorithm in CLIP:  # neither clipping alone
        assert max_abs_difference(twice["state_dict"], results["lightning", algorithm]["state_dict"]) > 1e-4


def test_overriding_configure_gradient_clipping_replaces_the_trainers_clipping(monkeypatch, results):
    """configure_gradient_clipping is where the Trainer clips: an override that clips by hand and does
    not call self.clip_gradients leaves gradient_clip_val unused (one clipping, the override's)."""
    def hooks(base):
        def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None):
            _clip_value_by_hand(self)
        return {"configure_gradient_clipping": configure_gradient_clipping}

    lightning = _lightning_with(monkeypatch, hooks)
    replaced = lightning.run(epochs=EPOCHS, seed=0, device="cpu", algorithm="norm", clip_val=CLIP["norm"])
    assert max_abs_difference(replaced["state_dict"], results["lightning", "value"]["state_dict"]) == 0.0


def test_an_override_that_also_calls_clip_gradients_clips_twice(monkeypatch):
    """The docstring's pattern, self.clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm),
    after a clip by hand: both apply, as in on_before_optimizer_step."""
    def hooks(base):
        def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None):
            _clip_value_by_hand(self)
            self.clip_gradients(optimizer, gradient_clip_val=gradient_clip_val,
                                gradient_clip_algorithm=gradient_clip_algorithm)
        return {"configure_gradient_clipping": configure_gradient_clipping}

    lightning = _lightning_with(monkeypatch, hooks)
    twice = lightning.run(epochs=EPOCHS, seed=0, device="cpu", algorithm="norm", clip_val=CLIP["norm"])
    assert max_abs_difference(twice["state_dict"], _plain_value_then_norm(monkeypatch)["state_dict"]) == 0.0


def test_clip_gradients_with_another_threshold_than_the_trainers_is_refused(monkeypatch):
    from pytorch_lightning.utilities.exceptions import MisconfigurationException

    def hooks(base):
        def on_before_optimizer_step(self, optimizer):
            self.clip_gradients(optimizer, gradient_clip_val=CLIP["value"])
        return {"on_before_optimizer_step": on_before_optimizer_step}

    lightning = _lightning_with(monkeypatch, hooks)
    with pytest.raises(MisconfigurationException, match="Please use only one of them"):
        lightning.run(epochs=1, seed=0, device="cpu", algorithm="norm", clip_val=CLIP["norm"])
