"""snippets/resuming: an interrupted and resumed run ends bitwise equal to an uninterrupted one, and forgetting breaks it.

The headline checks run at the published configuration (the headline run of runs.toml), so that
what the page says about that run is what these tests check; the forgetting cases run smaller.
"""

from __future__ import annotations

import pytest
import torch

from evidence import declared
from evidence.running.measure import max_abs_difference
from tests.conftest import load_program

TOPIC = "resuming"
KINDS = ["pytorch", "lightning", "fabric"]
PUBLISHED = {**declared.run(TOPIC).params, "device": "cpu"}
CONFIG = {"epochs": 3, "stop_after": 1, "seed": 0, "device": "cpu"}
STEPS_PER_EPOCH = 13  # 409 training rows in batches of 32


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("resume")


@pytest.fixture(scope="module")
def results(root):
    return {kind: load_program(TOPIC, kind).run(**PUBLISHED, ckpt_dir=str(root / kind)) for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_resumed_run_is_bitwise_equal_to_the_uninterrupted_run(results, kind):
    result = results[kind]
    epochs = PUBLISHED["epochs"]
    assert result["bitwise_equal"] is True
    assert result["resume_difference"] == 0.0
    assert result["history"] == result["uninterrupted_history"]
    assert len(result["history"]["val_loss"]) == epochs
    assert result["global_step"] == epochs * STEPS_PER_EPOCH
    assert result["history"]["lr"] == [0.01 * 0.5 ** (epoch // 2) for epoch in range(epochs)]


def test_the_published_interruption_falls_between_two_epochs_of_one_learning_rate(results):
    """The page says so: the scheduler's count, not only the learning rate, has to come back."""
    lr, stop = results["pytorch"]["history"]["lr"], PUBLISHED["stop_after"]
    assert lr[stop - 1] == lr[stop]


@pytest.mark.parametrize("kind", KINDS)
def test_checkpoint_epoch_counts_the_epochs_completed(results, root, kind):
    """All three record what Lightning records after fit(max_epochs=stop_after): the epochs completed."""
    assert results[kind]["checkpoint_epoch"] == PUBLISHED["stop_after"]
    checkpoint = torch.load(root / kind / "interrupted.ckpt", map_location="cpu", weights_only=True)
    assert checkpoint["epoch"] == PUBLISHED["stop_after"]
    assert checkpoint["global_step"] == PUBLISHED["stop_after"] * STEPS_PER_EPOCH


@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_same_final_weights_as_plain_pytorch(results, kind):
    assert max_abs_difference(results[kind]["state_dict"], results["pytorch"]["state_dict"]) == 0.0
    assert max_abs_difference(results[kind]["history"]["val_loss"], results["pytorch"]["history"]["val_loss"]) <= 1e-6


@pytest.fixture(scope="module")
def forgotten(tmp_path_factory):
    cache = {}

    def run(kind: str, forget: str) -> dict:
        if (kind, forget) not in cache:
            folder = tmp_path_factory.mktemp(f"forget-{kind}-{forget}")
            cache[kind, forget] = load_program(TOPIC, kind).run(**CONFIG, ckpt_dir=str(folder), forget=(forget,))
        return cache[kind, forget]
    return run


SLOW = pytest.mark.slow
CASES = [("pytorch", f) for f in ("rng", "loader", "optimizer", "scheduler")] + [
    ("lightning", "rng"), ("fabric", "loader"),
    pytest.param("lightning", "loader", marks=SLOW), pytest.param("lightning", "optimizer", marks=SLOW),
    pytest.param("lightning", "scheduler", marks=SLOW), pytest.param("fabric", "rng", marks=SLOW),
    pytest.param("fabric", "optimizer", marks=SLOW), pytest.param("fabric", "scheduler", marks=SLOW),
]


@pytest.mark.parametrize("kind, forget", CASES)
def test_forgetting_one_state_breaks_equality(results, forgotten, kind, forget):
    broken = forgotten(kind, forget)
    assert broken["bitwise_equal"] is False
    assert broken["resume_difference"] > 1e-4
    assert max_abs_difference(broken["state_dict"], results[kind]["state_dict"]) > 1e-4
    # every implementation breaks in exactly the same way
    assert max_abs_difference(broken["state_dict"], forgotten("pytorch", forget)["state_dict"]) == 0.0


def test_lightning_checkpoint_has_no_rng_state_of_its_own(results, root):
    checkpoint = torch.load(root / "lightning" / "interrupted.ckpt", weights_only=True)
    assert list(checkpoint["callbacks"]) == ["RandomState"]  # Forget has no state, so it saves nothing
    assert set(checkpoint["callbacks"]["RandomState"]) == {"torch", "loader"} | ({"cuda"} if torch.cuda.is_available() else set())
    tensors = [k for k, v in checkpoint.items() if k != "callbacks" and isinstance(v, torch.Tensor)]
    assert tensors == []  # the RNG states are only there because our callback put them there


@pytest.mark.parametrize("kind", KINDS)
def test_every_checkpoint_written_loads_with_weights_only(results, root, kind):
    files = sorted((root / kind).iterdir())
    assert [f.name for f in files] == [results[kind]["checkpoint_file"]]
    for file in files:
        assert isinstance(torch.load(file, map_location="cpu", weights_only=True), dict)
