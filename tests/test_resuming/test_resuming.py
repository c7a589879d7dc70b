"""snippets/resuming: an interrupted and resumed run ends bitwise equal to an uninterrupted one, and taking
any restored state away breaks it, in the same way in every implementation.

The headline checks run at the published configuration (the runs of runs.toml, with the harness's gather
through tests.conftest.run_program), so that what the page says about those runs is what these tests check;
the forgetting cases run smaller.
"""

from __future__ import annotations

import pytest
import torch

from evidence import checks, declared
from evidence.running.measure import max_abs_difference
from tests.conftest import load_program, run_program

TOPIC = "resuming"
KINDS = ["pytorch", "lightning", "fabric"]
RUNS = {run.name: {**run.params, "device": "cpu"} for run in declared.runs(TOPIC)}
PUBLISHED = RUNS["resume"]
SMALL = {"epochs": 3, "seed": 0, "device": "cpu"}
STEPS_PER_EPOCH = 13  # 409 training rows in batches of 32
WEIGHTS = {"pytorch": "model", "lightning": "state_dict", "fabric": "model"}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    return {(kind, name): run_program(TOPIC, kind, name, **params, ckpt_path=str(root / f"{kind}-{name}.ckpt"))
            for kind in KINDS for name, params in RUNS.items()}


@pytest.mark.parametrize("kind", KINDS)
def test_resumed_run_is_bitwise_equal_to_the_uninterrupted_run(results, kind):
    resumed, uninterrupted = results[kind, "resume"], results[kind, "uninterrupted"]
    assert PUBLISHED["stop_after"] > 0 and RUNS["uninterrupted"]["stop_after"] == 0
    assert max_abs_difference(resumed["state_dict"], uninterrupted["state_dict"]) == 0.0
    assert max_abs_difference(resumed["saved"][WEIGHTS[kind]], uninterrupted["saved"][WEIGHTS[kind]]) == 0.0
    assert max_abs_difference(resumed["saved"][WEIGHTS[kind]], resumed["state_dict"]) == 0.0
    assert resumed["history"] == uninterrupted["history"]
    epochs = PUBLISHED["epochs"]
    assert len(resumed["history"]["val_loss"]) == epochs
    assert resumed["steps"] == uninterrupted["steps"] == epochs * STEPS_PER_EPOCH
    assert (resumed["saved"]["epoch"], resumed["saved"]["global_step"]) == (epochs, epochs * STEPS_PER_EPOCH)


def test_declared_checks_hold_on_these_results(results):
    from evidence.running.worker import _jsonable

    reports = {name: {"implementations": {kind: _jsonable({**{k: v for k, v in results[kind, name].items() if k != "model"},
                                                             "weights": results[kind, name]["state_dict"]})
                                          for kind in KINDS}}
               for name in RUNS}
    found = [checks.evaluate(check, reports) for check in checks.declared_checks(TOPIC)]
    assert found and all(c["expected"] for c in found), [c for c in found if not c["expected"]]


def test_the_interruption_falls_between_two_epochs_of_one_learning_rate(results):
    """The page says so: the scheduler's count, not only the learning rate, has to come back."""
    lr, stop = results["pytorch", "resume"]["history"]["lr"], PUBLISHED["stop_after"]
    assert lr == [0.01 * 0.5 ** (epoch // 2) for epoch in range(PUBLISHED["epochs"])]
    assert lr[stop - 1] == lr[stop] > lr[stop + 1]


@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_same_final_weights_as_plain_pytorch(results, kind):
    assert max_abs_difference(results[kind, "resume"]["state_dict"], results["pytorch", "resume"]["state_dict"]) == 0
    assert max_abs_difference(results[kind, "resume"]["history"]["val_loss"],
                              results["pytorch", "resume"]["history"]["val_loss"]) <= 1e-6


@pytest.mark.parametrize("kind", KINDS)
def test_the_interrupted_checkpoint_counts_the_epochs_completed(tmp_path, kind):
    """All three record what Lightning records after fit(max_epochs=n): the epochs completed, the steps taken."""
    load_program(TOPIC, kind).run(epochs=1, seed=0, device="cpu", ckpt_path=str(tmp_path / "one.ckpt"))
    checkpoint = torch.load(tmp_path / "one.ckpt", map_location="cpu", weights_only=True)
    assert (checkpoint["epoch"], checkpoint["global_step"]) == (1, STEPS_PER_EPOCH)


def test_lightning_checkpoint_has_no_rng_state_of_its_own(results):
    saved = results["lightning", "resume"]["saved"]
    assert list(saved["callbacks"]) == ["RandomState"]
    assert set(saved["callbacks"]["RandomState"]) == {"torch", "loader"} | ({"cuda"} if torch.cuda.is_available() else set())
    assert [k for k, v in saved.items() if isinstance(v, torch.Tensor)] == []  # only our callback put them there


# -- taking one restored state away (by patching the call that restores it) breaks the equality --------------

def forget(monkeypatch, kind: str, state: str) -> None:
    """Make ``kind``'s program resume without ``state``: rng, loader, optimizer or scheduler."""
    program = load_program(TOPIC, kind)
    if state == "optimizer":
        monkeypatch.setattr(torch.optim.Adam, "load_state_dict", lambda self, saved: None)
    elif state == "scheduler":
        monkeypatch.setattr(torch.optim.lr_scheduler.StepLR, "load_state_dict", lambda self, saved: None)
    elif kind == "lightning":
        keep = "loader" if state == "rng" else "torch"
        restore = {"loader": lambda self, s: self.generator.set_state(s["loader"]),
                   "torch": lambda self, s: torch.set_rng_state(s["torch"])}[keep]
        monkeypatch.setattr(program.RandomState, "load_state_dict", restore)
    else:
        restore = {"rng": lambda s, generator: generator.set_state(s["loader"]),
                   "loader": lambda s, generator: torch.set_rng_state(s["torch"])}[state]
        monkeypatch.setattr(program, "set_rng_state", restore)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    cache = {}

    def run(kind: str, stop_after: int, patch=None) -> dict:
        key = (kind, stop_after, patch)
        if key not in cache:
            folder = tmp_path_factory.mktemp("small")
            with pytest.MonkeyPatch.context() as monkeypatch:
                if patch:
                    forget(monkeypatch, kind, patch)
                cache[key] = run_program(TOPIC, kind, **SMALL, stop_after=stop_after,
                                         ckpt_path=str(folder / "small.ckpt"))
        return cache[key]
    return run


SLOW = pytest.mark.slow
CASES = [("pytorch", s) for s in ("rng", "loader", "optimizer", "scheduler")] + [
    ("lightning", "rng"), ("fabric", "loader"),
    pytest.param("lightning", "loader", marks=SLOW), pytest.param("lightning", "optimizer", marks=SLOW),
    pytest.param("lightning", "scheduler", marks=SLOW), pytest.param("fabric", "rng", marks=SLOW),
    pytest.param("fabric", "optimizer", marks=SLOW), pytest.param("fabric", "scheduler", marks=SLOW),
]


@pytest.mark.parametrize("kind, state", CASES)
def test_resuming_without_one_state_breaks_equality(small, kind, state):
    intact, broken = small(kind, 1), small(kind, 1, state)
    assert max_abs_difference(intact["state_dict"], small(kind, 0)["state_dict"]) == 0.0
    assert max_abs_difference(broken["state_dict"], intact["state_dict"]) > 1e-4
    # every implementation breaks in exactly the same way
    assert max_abs_difference(broken["state_dict"], small("pytorch", 1, state)["state_dict"]) == 0.0
