"""snippets/grad_clipping: clipping by norm and by value, gradient norms watched before clipping, parity."""

from __future__ import annotations

import pytest
import torch

from evidence.running.measure import max_abs_difference
from tests.conftest import load_program, run_program

TOPIC = "grad_clipping"
KINDS = ["pytorch", "lightning", "fabric"]
EPOCHS = 2  # 409 training samples in batches of 32: 13 steps per epoch
CLIP = {"norm": 0.2, "value": 0.05}


def _run(kind, algorithm="norm", clip_val=None, epochs=EPOCHS):
    return run_program(TOPIC, kind, epochs=epochs, seed=0, device="cpu", algorithm=algorithm,
                       clip_val=CLIP[algorithm] if clip_val is None else clip_val)


@pytest.fixture(scope="module")
def results():
    return {(kind, algorithm): _run(kind, algorithm) for algorithm in CLIP for kind in KINDS}


@pytest.mark.parametrize("algorithm", list(CLIP))
@pytest.mark.parametrize("kind", KINDS)
def test_run_trains_and_keeps_the_largest_gradient_norm_per_epoch(results, kind, algorithm):
    result = results[kind, algorithm]
    assert result["steps"] == EPOCHS * 13
    assert len(result["history"]["max_grad_norm"]) == len(result["history"]["val_loss"]) == EPOCHS
    assert result["history"]["val_loss"][-1] < result["history"]["val_loss"][0]


@pytest.mark.parametrize("algorithm", list(CLIP))
@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_weights_and_gradient_norms_match_plain_pytorch(results, kind, algorithm):
    reference = results["pytorch", algorithm]
    assert max_abs_difference(results[kind, algorithm]["state_dict"], reference["state_dict"]) == 0.0
    assert max_abs_difference(results[kind, algorithm]["history"]["max_grad_norm"],
                              reference["history"]["max_grad_norm"]) <= 1e-6


@pytest.mark.parametrize("kind", KINDS)
def test_norms_are_measured_before_clipping(results, kind):
    """Measured after clipping by norm, no epoch's largest norm could exceed the threshold."""
    assert all(norm > CLIP["norm"] for norm in results[kind, "norm"]["history"]["max_grad_norm"])


def test_the_largest_norm_is_the_largest_of_the_steps(monkeypatch, results):
    """The plain loop's per-epoch value is the maximum of the norms clip_grad_norm_ saw at each step."""
    seen = []
    clip_norm = torch.nn.utils.clip_grad_norm_

    def watched(parameters, max_norm):
        seen.append(float(clip_norm(parameters, max_norm=max_norm)))
        return seen[-1]

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", watched)
    run_program(TOPIC, "pytorch", epochs=EPOCHS, seed=0, device="cpu", algorithm="norm", clip_val=CLIP["norm"])
    per_epoch = [max(seen[13 * e:13 * (e + 1)]) for e in range(EPOCHS)]
    assert max_abs_difference(per_epoch, results["pytorch", "norm"]["history"]["max_grad_norm"]) <= 1e-6


@pytest.mark.parametrize("algorithm", list(CLIP))
@pytest.mark.parametrize("kind", ["pytorch", "lightning"])
def test_clipping_changes_the_weights(results, kind, algorithm):
    """A threshold far above every gradient leaves them alone; the real threshold does not."""
    unclipped = _run(kind, algorithm, clip_val=1e9)
    assert max_abs_difference(unclipped["state_dict"], results[kind, algorithm]["state_dict"]) > 1e-3


def test_the_two_algorithms_differ(results):
    assert max_abs_difference(results["pytorch", "norm"]["state_dict"],
                              results["pytorch", "value"]["state_dict"]) > 1e-3


@pytest.mark.parametrize("kind", KINDS)
def test_bad_clipping_arguments_are_refused(kind):
    for bad in ({"algorithm": "max"}, {"clip_val": 0.0}):
        with pytest.raises(ValueError, match="--algorithm must be norm or value"):
            load_program(TOPIC, kind).run(**{"epochs": 1, "device": "cpu", **bad})


# -- clipping by hand while the Trainer clips: where it clips twice and where it does not ---------------------
# Lightning 2.6.6 runs, per optimizer step: training_step, zero_grad, backward
# (loops/optimization/automatic.py, Closure.closure), then on_before_optimizer_step, then
# configure_gradient_clipping, whose default calls self.clip_gradients with the Trainer's
# gradient_clip_val (plugins/precision/precision.py, _after_closure), then the optimizer step.

def _clip_value_by_hand(module, threshold=CLIP["value"]):
    torch.nn.utils.clip_grad_value_(module.parameters(), clip_value=threshold)


def _lightning_with(monkeypatch, hooks):
    """Replace the Lightning program's Classifier by a subclass: ``hooks(Classifier)`` gives the methods
    it overrides."""
    lightning = load_program(TOPIC, "lightning")
    base = lightning.Classifier
    monkeypatch.setattr(lightning, "Classifier", type("Patched", (base,), hooks(base)))


def test_clipping_by_hand_in_training_step_changes_nothing(monkeypatch, results):
    """Under automatic optimization without accumulation the step's gradients do not exist yet in training_step.
    The first step of each epoch finds none (Lightning sets them to None before validating: on_validation_model_zero_grad,
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

    _lightning_with(monkeypatch, hooks)
    clipped = _run("lightning")
    assert [i for i, none in enumerate(seen) if none] == [13 * epoch for epoch in range(EPOCHS)]
    assert max_abs_difference(clipped["state_dict"], results["lightning", "norm"]["state_dict"]) == 0.0


def test_clipping_by_hand_in_training_step_changes_the_step_when_accumulating():
    """With accumulate_grad_batches=2 the Trainer zeroes the gradients only before a window's first micro-batch
    (loops/optimization/automatic.py, _make_zero_grad_fn), so training_step of the second finds the first one's
    gradients, which the step adds up: clipping them there changes the weights."""
    import pytorch_lightning as pl
    from torch.utils.data import DataLoader

    lightning = load_program(TOPIC, "lightning")

    def fit(clip_in_training_step: bool):
        class Accumulating(lightning.Classifier):
            def training_step(self, batch, batch_idx):
                self.found.append(all(p.grad is not None for p in self.parameters()))
                if clip_in_training_step and self.found[-1]:
                    _clip_value_by_hand(self, 1e-6)
                return super().training_step(batch, batch_idx)

        pl.seed_everything(0, verbose=False)
        train_set, val_set = lightning.make_data(0)
        loader = DataLoader(train_set, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0))
        module = Accumulating()
        module.found = []
        pl.Trainer(max_epochs=1, accelerator="cpu", accumulate_grad_batches=2, gradient_clip_val=CLIP["norm"],
                   logger=False, enable_checkpointing=False, enable_progress_bar=False,
                   enable_model_summary=False).fit(module, loader, DataLoader(val_set, batch_size=32))
        return module

    clipped, unclipped = fit(True), fit(False)
    assert clipped.found[:3] == [False, True, True]  # the first window's first micro-batch is the only one without
    assert max_abs_difference(clipped.model.state_dict(), unclipped.model.state_dict()) > 1e-3


def test_manual_optimization_refuses_gradient_clip_val(monkeypatch):
    from pytorch_lightning.utilities.exceptions import MisconfigurationException

    def hooks(base):
        def __init__(self, *args, **kwargs):
            base.__init__(self, *args, **kwargs)
            self.automatic_optimization = False
        return {"__init__": __init__}

    _lightning_with(monkeypatch, hooks)
    with pytest.raises(MisconfigurationException, match="Automatic gradient clipping is not supported for manual"):
        _run("lightning", epochs=1)


def _plain_value_then_norm(monkeypatch):
    """The plain program clipping each element at CLIP['value'] and then the norm at CLIP['norm']."""
    clip_norm = torch.nn.utils.clip_grad_norm_

    def twice(parameters, max_norm):
        parameters = list(parameters)
        torch.nn.utils.clip_grad_value_(parameters, clip_value=CLIP["value"])
        return clip_norm(parameters, max_norm=max_norm)

    with monkeypatch.context() as patch:
        patch.setattr(torch.nn.utils, "clip_grad_norm_", twice)
        return _run("pytorch")


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

    _lightning_with(monkeypatch, hooks)
    twice = _run("lightning")
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

    _lightning_with(monkeypatch, hooks)
    replaced = _run("lightning")
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

    _lightning_with(monkeypatch, hooks)
    twice = _run("lightning")
    assert max_abs_difference(twice["state_dict"], _plain_value_then_norm(monkeypatch)["state_dict"]) == 0.0


def test_clip_gradients_with_another_threshold_than_the_trainers_is_refused(monkeypatch):
    from pytorch_lightning.utilities.exceptions import MisconfigurationException

    def hooks(base):
        def on_before_optimizer_step(self, optimizer):
            self.clip_gradients(optimizer, gradient_clip_val=CLIP["value"])
        return {"on_before_optimizer_step": on_before_optimizer_step}

    _lightning_with(monkeypatch, hooks)
    with pytest.raises(MisconfigurationException, match="Please use only one of them"):
        _run("lightning", epochs=1)
