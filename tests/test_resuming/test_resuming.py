"""snippets/resuming: an interrupted run resumed from its last checkpoint ends bitwise equal to an uninterrupted
one, and taking any restored state away breaks it, in the same way in every implementation; since Lightning
2.6.0, ModelCheckpoint(save_last=True) with a monitor leaves last.ckpt at the last improving epoch, and
fit(ckpt_path="last") trains the epochs after it again.

The headline checks run at the published configuration (the runs of runs.toml, with the harness's gather
through tests.conftest.run_program), so that what the page says about those runs is what these tests check;
the forgetting cases run smaller. Lightning's behaviour is checked on the files it wrote and on the epochs
its Trainer ran, seen from a callback the test adds.
"""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint

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
BEST_EPOCH = 3  # the published run's validation accuracy stops improving after epoch 3 (from 0)


def load(path):
    return torch.load(path, map_location="cpu", weights_only=True)


def weights(kind: str, checkpoint: dict) -> dict:
    state = checkpoint[WEIGHTS[kind]]
    return {k.removeprefix("model."): v for k, v in state.items()}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    return {(kind, name): run_program(TOPIC, kind, name, **params, ckpt_dir=str(root / f"{kind}-{name}"))
            for kind in KINDS for name, params in RUNS.items()}


@pytest.fixture
def epochs_run(monkeypatch):
    """The epochs every Trainer built from now on ran, one list per fit, read by a callback added to it."""
    fits: list[list[int]] = []

    class Epochs(pl.Callback):
        def on_train_start(self, trainer, pl_module):
            fits.append([])

        def on_train_epoch_start(self, trainer, pl_module):
            fits[-1].append(trainer.current_epoch)

    original = pl.Trainer.__init__

    def init(trainer, *args, callbacks=(), **kwargs):
        original(trainer, *args, callbacks=[*callbacks, Epochs()], **kwargs)

    monkeypatch.setattr(pl.Trainer, "__init__", init)
    return fits


@pytest.mark.parametrize("kind", KINDS)
def test_resumed_run_is_bitwise_equal_to_the_uninterrupted_run(results, kind):
    resumed, uninterrupted = results[kind, "resume"], results[kind, "uninterrupted"]
    assert PUBLISHED["stop_after"] > 0 and RUNS["uninterrupted"]["stop_after"] == 0
    assert max_abs_difference(resumed["state_dict"], uninterrupted["state_dict"]) == 0.0
    # the last.ckpt the resumed job left holds the final weights and counts every step once
    assert max_abs_difference(weights(kind, resumed["saved"]), resumed["state_dict"]) == 0.0
    assert resumed["saved"]["global_step"] == PUBLISHED["epochs"] * STEPS_PER_EPOCH


@pytest.mark.parametrize("kind", ["pytorch", "fabric"])
def test_plain_and_fabric_train_each_epoch_once(results, kind):
    resumed, uninterrupted = results[kind, "resume"], results[kind, "uninterrupted"]
    assert resumed["history"] == uninterrupted["history"]
    assert len(resumed["history"]["val_loss"]) == PUBLISHED["epochs"]
    assert resumed["steps"] == uninterrupted["steps"] == PUBLISHED["epochs"] * STEPS_PER_EPOCH


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
    assert max_abs_difference(results[kind, "uninterrupted"]["history"]["val_loss"],
                              results["pytorch", "uninterrupted"]["history"]["val_loss"]) <= 1e-6


# -- what the interrupted job leaves, and what a resumed job trains ---------------------------------------------

def interrupted_job(kind: str, folder) -> None:
    """The first job of the published run alone: it ends after --stop-after epochs."""
    program = load_program(TOPIC, kind)
    if kind == "pytorch":
        program.train(PUBLISHED["stop_after"], 0, torch.device("cpu"), str(folder), {k: [] for k in
                      ("train_loss", "val_loss", "val_acc", "lr")})
    elif kind == "fabric":
        program.train(PUBLISHED["stop_after"], 0, "cpu", str(folder), {k: [] for k in
                      ("train_loss", "val_loss", "val_acc", "lr")})
    else:
        program.train(PUBLISHED["stop_after"], 0, "cpu", str(folder))


@pytest.mark.parametrize("kind", ["pytorch", "fabric"])
def test_plain_and_fabric_leave_the_last_epoch_in_last_ckpt(tmp_path, kind):
    interrupted_job(kind, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.ckpt", "last.ckpt"]
    last, best = load(tmp_path / "last.ckpt"), load(tmp_path / "best.ckpt")
    assert (last["epoch"], last["global_step"]) == (PUBLISHED["stop_after"] - 1, PUBLISHED["stop_after"] * STEPS_PER_EPOCH)
    assert (best["epoch"], best["global_step"]) == (BEST_EPOCH, (BEST_EPOCH + 1) * STEPS_PER_EPOCH)


def test_lightning_leaves_the_best_epoch_in_last_ckpt(tmp_path, epochs_run):
    """On the pinned Lightning (2.6.x): last.ckpt is the copy written beside the best checkpoint, the
    last epoch whose val_acc improved, not the last epoch trained; the accuracy did not improve after it."""
    interrupted_job("lightning", tmp_path)
    assert epochs_run == [list(range(PUBLISHED["stop_after"]))]
    best = f"epoch={BEST_EPOCH}-step={(BEST_EPOCH + 1) * STEPS_PER_EPOCH}.ckpt"
    assert sorted(p.name for p in tmp_path.iterdir()) == [best, "last.ckpt"]
    last = load(tmp_path / "last.ckpt")
    assert (last["epoch"], last["global_step"]) == (BEST_EPOCH, (BEST_EPOCH + 1) * STEPS_PER_EPOCH)
    assert max_abs_difference(last["state_dict"], load(tmp_path / best)["state_dict"]) == 0.0
    # the reason: the accuracy (the same in every implementation) did not improve after that epoch
    accuracy = run_program(TOPIC, "pytorch", epochs=PUBLISHED["stop_after"], device="cpu",
                           ckpt_dir=str(tmp_path / "plain"))["history"]["val_acc"]
    assert max(accuracy) == accuracy[BEST_EPOCH] > max(accuracy[:BEST_EPOCH])
    state = next(v for k, v in last["callbacks"].items() if k.startswith("ModelCheckpoint"))
    assert float(state["best_model_score"]) == pytest.approx(accuracy[BEST_EPOCH], abs=1e-6)


def test_lightning_resumed_from_last_trains_the_epochs_after_it_again(tmp_path, epochs_run):
    result = run_program(TOPIC, "lightning", **PUBLISHED, ckpt_dir=str(tmp_path))
    stop, epochs = PUBLISHED["stop_after"], PUBLISHED["epochs"]
    assert epochs_run == [list(range(stop)), list(range(BEST_EPOCH + 1, epochs))]
    assert result["steps"] == (stop + epochs - BEST_EPOCH - 1) * STEPS_PER_EPOCH
    # the epoch trained twice logged the same validation loss both times: the same state, replayed
    logged = result["history"]["val_loss"]
    assert len(logged) == stop + epochs - BEST_EPOCH - 1 and logged[stop] == logged[stop - 1]


def test_a_second_callback_writing_every_epoch_resumes_from_the_last_one(tmp_path, epochs_run, monkeypatch):
    """The page's way round it on 2.6: the monitored callback without save_last, and a second
    ModelCheckpoint(dirpath=same folder, filename="last"), which rewrites last.ckpt every epoch (no
    monitor); ckpt_path="last" resumes from it, so no epoch runs twice."""
    with_epochs = pl.Trainer.__init__

    def init(trainer, *args, callbacks=(), **kwargs):
        best = next(c for c in callbacks if isinstance(c, ModelCheckpoint))
        best.save_last = None
        with_epochs(trainer, *args, callbacks=[*callbacks, ModelCheckpoint(dirpath=best.dirpath, filename="last")],
                    **kwargs)

    monkeypatch.setattr(pl.Trainer, "__init__", init)
    result = run_program(TOPIC, "lightning", **PUBLISHED, ckpt_dir=str(tmp_path))
    stop, epochs = PUBLISHED["stop_after"], PUBLISHED["epochs"]
    assert epochs_run == [list(range(stop)), list(range(stop, epochs))]
    assert result["steps"] == epochs * STEPS_PER_EPOCH
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"epoch={BEST_EPOCH}-step={(BEST_EPOCH + 1) * STEPS_PER_EPOCH}.ckpt",
                                                          "last.ckpt"]
    assert load(tmp_path / "last.ckpt")["epoch"] == epochs - 1


def test_without_a_monitor_last_ckpt_follows_every_n_epochs(tmp_path):
    """The page's parenthesis: on 2.6, ModelCheckpoint(save_last=True, every_n_epochs=2) writes last.ckpt
    only at the epochs it saves, though its docstring says every_n_epochs does not affect save_last."""
    program = load_program(TOPIC, "lightning")
    train_set, val_set = program.make_data(0)
    trainer = pl.Trainer(max_epochs=3, accelerator="cpu", logger=False, enable_progress_bar=False,
                         enable_model_summary=False,
                         callbacks=[ModelCheckpoint(dirpath=tmp_path, save_last=True, every_n_epochs=2)])
    trainer.fit(program.Classifier(), torch.utils.data.DataLoader(train_set, batch_size=32),
                torch.utils.data.DataLoader(val_set, batch_size=32))
    assert trainer.current_epoch == 3
    assert load(tmp_path / "last.ckpt")["epoch"] == 1  # epochs 0 and 2 wrote no last.ckpt


def test_lightning_checkpoint_has_no_rng_state_of_its_own(results):
    saved = results["lightning", "resume"]["saved"]
    assert "RandomState" in saved["callbacks"] and any(k.startswith("ModelCheckpoint") for k in saved["callbacks"])
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
                cache[key] = run_program(TOPIC, kind, **SMALL, stop_after=stop_after, ckpt_dir=str(folder / "small"))
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
