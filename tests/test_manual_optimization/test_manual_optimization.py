"""snippets/manual_optimization: a GAN with two optimizers, plain loop vs manual optimization vs Fabric."""

from __future__ import annotations

import pytest
import torch

from evidence.running.measure import max_abs_difference
from tests.conftest import load_program, run_program

TOPIC = "manual_optimization"
KINDS = ["pytorch", "lightning", "fabric"]
EPOCHS = 3
BATCHES = 8  # 500 points in batches of 64: seven full batches and one of 52


@pytest.fixture(scope="module")
def results():
    return {kind: run_program(TOPIC, kind, epochs=EPOCHS, seed=0, device="cpu") for kind in KINDS}


@pytest.fixture(scope="module")
def initial_state():
    torch.manual_seed(0)
    return {k: v.clone() for k, v in load_program(TOPIC, "pytorch").build_networks().state_dict().items()}


@pytest.mark.parametrize("kind", KINDS)
def test_two_optimizer_steps_per_batch_and_both_networks_trained(results, initial_state, kind):
    result = results[kind]
    assert result["steps"] == 2 * EPOCHS * BATCHES
    assert {k.split(".")[0] for k in result["state_dict"]} == {"generator", "discriminator"}
    for name in ("generator", "discriminator"):
        part = {k: v for k, v in result["state_dict"].items() if k.startswith(name)}
        reference = {k: v for k, v in initial_state.items() if k.startswith(name)}
        assert max_abs_difference(part, reference) > 1e-3, f"{name} did not move"
    assert tuple(result["samples"].shape) == (256, 2)
    assert {len(v) for v in result["history"].values()} == {EPOCHS}
    # the last epoch's radius is the mean norm of the returned samples
    assert result["history"]["fake_radius"][-1] == pytest.approx(result["samples"].norm(dim=1).mean().item())


@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_weights_of_both_networks_identical_to_plain_pytorch(results, kind):
    assert max_abs_difference(results[kind]["state_dict"], results["pytorch"]["state_dict"]) == 0.0
    assert max_abs_difference(results[kind]["samples"], results["pytorch"]["samples"]) == 0.0
    assert max_abs_difference(results[kind]["history"], results["pytorch"]["history"]) <= 1e-6


def test_lightning_uses_manual_optimization_with_two_optimizers():
    program = load_program(TOPIC, "lightning")
    module = program.GAN()
    assert module.automatic_optimization is False
    optimizers = module.configure_optimizers()
    assert len(optimizers) == 2
    generator_params = {id(p) for p in module.nets["generator"].parameters()}
    assert {id(p) for p in optimizers[0].param_groups[0]["params"]} == generator_params


def test_toggling_leaves_only_the_stepping_network_trainable_and_global_step_counts_both(monkeypatch):
    """During each manual_backward only the parameters of the optimizer about to step require
    grad; trainer.global_step advances by two per batch (the page's pitfall on max_steps)."""
    program = load_program(TOPIC, "lightning")
    seen, global_steps = [], []
    original = program.GAN.manual_backward

    def spy(self, loss, *args, **kwargs):
        seen.append(tuple(all(p.requires_grad for p in self.nets[name].parameters())
                          for name in ("discriminator", "generator")))
        return original(self, loss, *args, **kwargs)

    monkeypatch.setattr(program.GAN, "manual_backward", spy)
    monkeypatch.setattr(program.GAN, "on_train_end", lambda self: global_steps.append(self.trainer.global_step),
                        raising=False)
    program.run(epochs=1, seed=0, device="cpu")
    assert seen == [(True, False), (False, True)] * BATCHES
    assert global_steps == [2 * BATCHES]


def test_an_exactly_full_last_batch_changes_lightnings_shuffle_from_epoch_two():
    """The pitfall on the page: with 512 points (8 full batches of 64) Lightning never exhausts
    the sampler, so RandomSampler skips one draw from the shared generator per epoch."""
    plain, lightning = (run_program(TOPIC, k, epochs=2, seed=0, device="cpu", points=512)
                        for k in ("pytorch", "lightning"))
    # identical after the first epoch (the generated points' radius depends on every weight)...
    assert plain["history"]["fake_radius"][0] == lightning["history"]["fake_radius"][0]
    # ...and apart after the second
    assert plain["history"]["fake_radius"][1] != lightning["history"]["fake_radius"][1]
    assert max_abs_difference(plain["state_dict"], lightning["state_dict"]) > 1e-4
