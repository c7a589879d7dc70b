"""snippets/checkpointing: top-k plus last, the same kept files and best predictions, what last.ckpt holds,
checkpoint contents, and every file loading with torch.load(weights_only=True).

The programs run at the published configuration (the headline run of runs.toml), with the harness's
gather (tests.conftest.run_program), so that what the page states about this run is what these tests check.
"""

from __future__ import annotations

import os
import pickle

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader

from evidence import checks, declared
from evidence.running.measure import lookup, max_abs_difference
from tests.conftest import load_program, run_program

TOPIC = "checkpointing"
KINDS = ["pytorch", "lightning", "fabric"]
PUBLISHED = declared.run(TOPIC).params
EPOCHS, TOP_K = PUBLISHED["epochs"], PUBLISHED["save_top_k"]


def epoch_of(result, name):
    return result["checkpoints"][name]["keys"]["epoch"]["value"]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpt")
    folders = {kind: root / kind for kind in KINDS}
    for folder in folders.values():
        folder.mkdir()
        (folder / "epoch=99.ckpt").write_bytes(b"stale checkpoint from an earlier run")
    return folders


@pytest.fixture(scope="module")
def results(folders):
    return {kind: run_program(TOPIC, kind, **PUBLISHED, device="cpu", ckpt_dir=str(folders[kind])) for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_keeps_the_k_best_epochs_by_val_loss_and_the_last(results, folders, kind):
    result = results[kind]
    val_loss = result["history"]["val_loss"]
    best = sorted(sorted(range(EPOCHS), key=val_loss.__getitem__)[:TOP_K])
    assert best != list(range(EPOCHS - TOP_K, EPOCHS)), "the configuration should not keep simply the last k"
    expected = sorted([f"epoch={e:02d}.ckpt" for e in best] + ["last.ckpt"])
    assert result["kept_files"] == expected  # the stale file was replaced
    assert [epoch_of(result, f"epoch={e:02d}.ckpt") for e in best] == best
    best_epoch = min(range(EPOCHS), key=val_loss.__getitem__)
    assert os.path.basename(result["best_model_path"]) == f"epoch={best_epoch:02d}.ckpt"


@pytest.mark.parametrize("kind", ["pytorch", "fabric"])
def test_plain_and_fabric_last_ckpt_holds_the_final_epoch(results, kind):
    assert epoch_of(results[kind], "last.ckpt") == EPOCHS - 1


def test_lightning_last_ckpt_holds_the_newest_top_k_epoch_not_the_final_one(results):
    """Lightning >= 2.6.0 writes last.ckpt only when a top-k checkpoint was saved in the same step; the
    published run ends on epochs outside the top k, so its last.ckpt is the newest top-k epoch, an older one."""
    result = results["lightning"]
    newest = max(epoch_of(result, name) for name in result["kept_files"] if name != "last.ckpt")
    assert newest < EPOCHS - 1, "the published configuration should end on an epoch outside the top k"
    assert epoch_of(result, "last.ckpt") == newest
    assert tuple(int(part) for part in pl.__version__.split(".")[:2]) >= (2, 6), "2.0 to 2.5 wrote it every epoch"


def test_declared_checks_hold_on_these_results(results):
    from evidence.running.worker import _jsonable

    reports = {"top3": {"implementations": {k: _jsonable({n: v for n, v in r.items() if n != "model"})
                                            for k, r in results.items()}}}
    found = [checks.evaluate(check, reports) for check in checks.declared_checks(TOPIC)]
    assert found and all(c["expected"] for c in found), [c for c in found if not c["expected"]]


def test_a_second_callback_without_a_monitor_keeps_the_final_epoch(tmp_path):
    """The page's advice for Lightning >= 2.6: a second ModelCheckpoint(filename="latest") keeps the final state."""
    program = load_program(TOPIC, "lightning")
    pl.seed_everything(0, verbose=False)
    train_set, val_set = program.make_data(0)
    loader = DataLoader(train_set, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0))
    top_k = ModelCheckpoint(dirpath=tmp_path, filename="{epoch:02d}", monitor="val_loss", save_top_k=TOP_K,
                            save_last=True)
    latest = ModelCheckpoint(dirpath=tmp_path, filename="latest")
    trainer = pl.Trainer(max_epochs=EPOCHS, accelerator="cpu", devices=1, callbacks=[top_k, latest], logger=False,
                         enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(program.Classifier(), loader, DataLoader(val_set, batch_size=32))
    assert torch.load(tmp_path / "latest.ckpt", weights_only=True)["epoch"] == EPOCHS - 1
    assert torch.load(tmp_path / "last.ckpt", weights_only=True)["epoch"] < EPOCHS - 1
    assert sorted(os.listdir(tmp_path)) == sorted([*(os.path.basename(p) for p in top_k.best_k_models),
                                                   "last.ckpt", "latest.ckpt"])


@pytest.mark.parametrize("kind", ["lightning", "fabric"])
@pytest.mark.parametrize("path", ["predictions", "kept_files", "state_dict", "history.val_loss", "history.train_loss"])
def test_same_checkpoints_and_predictions_as_plain_pytorch(results, kind, path):
    assert max_abs_difference(lookup(results[kind], path), lookup(results["pytorch"], path)) == 0.0


@pytest.mark.parametrize("kind", KINDS)
def test_predictions_come_from_the_best_checkpoint_not_the_final_model(results, kind):
    result = results[kind]
    program = load_program(TOPIC, kind)
    final = program.build_model()
    final.load_state_dict(result["state_dict"])
    final.eval()
    best = program.build_model()
    saved = torch.load(result["best_model_path"], weights_only=True)
    best.load_state_dict(saved["model"] if "model" in saved else
                         {k.removeprefix("model."): v for k, v in saved["state_dict"].items()})
    best.eval()
    with torch.no_grad():
        inputs = program.make_data(0)[1].tensors[0]
        assert max_abs_difference(final(inputs), result["predictions"]) > 0
        assert max_abs_difference(best(inputs), result["predictions"]) == 0


def test_checkpoint_contents_plain_and_fabric_hold_what_they_were_given(results):
    best = os.path.basename(results["pytorch"]["best_model_path"])
    for kind in ("pytorch", "fabric"):
        keys = results[kind]["checkpoints"][best]["keys"]
        assert list(keys) == ["epoch", "global_step", "val_loss", "model", "optimizer"]
        assert keys["model"]["shapes"] == {"0.weight": [16, 10], "0.bias": [16], "2.weight": [2, 16], "2.bias": [2]}
        assert keys["model"]["tensor_bytes"] == 4 * (160 + 16 + 32 + 2)
    assert results["fabric"]["checkpoints"][best]["keys"] == results["pytorch"]["checkpoints"][best]["keys"]


def test_lightning_checkpoint_holds_more(results):
    best = os.path.basename(results["pytorch"]["best_model_path"])
    keys = results["lightning"]["checkpoints"][best]["keys"]
    plain = results["pytorch"]["checkpoints"][best]["keys"]
    assert set(keys) == {"epoch", "global_step", "pytorch-lightning_version", "state_dict", "loops", "callbacks",
                         "optimizer_states", "lr_schedulers", "hparams_name", "hyper_parameters"}
    assert list(keys["state_dict"]["shapes"]) == [f"model.{k}" for k in plain["model"]["shapes"]]
    assert keys["state_dict"]["tensor_bytes"] == plain["model"]["tensor_bytes"]
    assert keys["optimizer_states"]["tensor_bytes"] == plain["optimizer"]["tensor_bytes"]
    assert keys["hyper_parameters"]["keys"] == ["lr"]
    assert set(keys["loops"]["keys"]) == {"fit_loop", "validate_loop", "test_loop", "predict_loop"}
    assert [k.startswith("ModelCheckpoint{") for k in keys["callbacks"]["keys"]] == [True]
    assert keys["epoch"]["value"] == plain["epoch"]["value"] == int(best[6:8])
    assert keys["global_step"]["value"] == plain["global_step"]["value"] == 13 * (keys["epoch"]["value"] + 1)
    for name in (best, "last.ckpt"):
        sizes = {kind: results[kind]["checkpoints"][name]["file_bytes"] for kind in KINDS}
        assert sizes["lightning"] > max(sizes["pytorch"], sizes["fabric"])


@pytest.mark.parametrize("kind", KINDS)
def test_every_checkpoint_written_loads_with_weights_only(results, folders, kind):
    """Every .ckpt file each program leaves loads with torch's restricted unpickler."""
    files = sorted(folders[kind].glob("*.ckpt"))
    assert [f.name for f in files] == results[kind]["kept_files"]
    for file in files:
        checkpoint = torch.load(file, map_location="cpu", weights_only=True)
        assert isinstance(checkpoint, dict) and "epoch" in checkpoint


def test_load_from_checkpoint_leaves_weights_only_to_torch(results, tmp_path):
    """Lightning >= 2.6 passes weights_only=None to torch.load, and torch >= 2.6 then loads a local file with
    weights_only=True: a checkpoint holding an arbitrary object is refused unless weights_only=False is given."""
    program = load_program(TOPIC, "lightning")
    checkpoint = torch.load(results["lightning"]["best_model_path"], weights_only=True)
    checkpoint["extra"] = pickle.PickleError("any object that is not a tensor or a plain value")
    torch.save(checkpoint, tmp_path / "with-object.ckpt")
    with pytest.raises(pickle.UnpicklingError, match="weights_only"):
        program.Classifier.load_from_checkpoint(tmp_path / "with-object.ckpt")
    restored = program.Classifier.load_from_checkpoint(tmp_path / "with-object.ckpt", weights_only=False)
    assert restored.hparams.lr == 0.03


def test_lightning_stores_absolute_paths(results, folders):
    assert os.path.isabs(results["lightning"]["best_model_path"])
    assert not os.path.isabs(load_program(TOPIC, "pytorch").run.__defaults__[4])  # the plain default: relative
    checkpoint = torch.load(folders["lightning"] / "last.ckpt", weights_only=True)
    state = next(v for k, v in checkpoint["callbacks"].items() if k.startswith("ModelCheckpoint"))
    assert os.path.isabs(state["dirpath"]) and os.path.isabs(state["best_model_path"])
    assert all(os.path.isabs(path) for path in state["best_k_models"])
