"""snippets/checkpointing: top-k plus last, the same kept epochs and best predictions, checkpoint contents."""

from __future__ import annotations

import json

import pytest
import torch

from evidence.running.measure import max_abs_difference
from tests.conftest import load_program

TOPIC = "checkpointing"
KINDS = ["pytorch", "lightning", "fabric"]
EPOCHS, TOP_K = 10, 3


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
    return {kind: load_program(TOPIC, kind).run(epochs=EPOCHS, seed=0, device="cpu", save_top_k=TOP_K,
                                                ckpt_dir=str(folders[kind]))
            for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_keeps_the_k_best_epochs_by_val_loss_and_the_last(results, folders, kind):
    result = results[kind]
    val_loss = result["history"]["val_loss"]
    best = sorted(sorted(range(EPOCHS), key=val_loss.__getitem__)[:TOP_K])
    assert best != list(range(EPOCHS - TOP_K, EPOCHS)), "the configuration should not keep simply the last k"
    assert result["kept_epochs"] == best
    expected = sorted([f"epoch={e:02d}.ckpt" for e in best] + ["last.ckpt"])
    assert result["kept_files"] == expected
    assert sorted(p.name for p in folders[kind].iterdir()) == expected  # the stale file was replaced
    assert result["best_file"] == f"epoch={min(range(EPOCHS), key=val_loss.__getitem__):02d}.ckpt"


@pytest.mark.parametrize("kind", KINDS)
def test_last_ckpt_is_refreshed_only_when_a_top_k_checkpoint_is_written(results, kind):
    val_loss = results[kind]["history"]["val_loss"]
    entered = [e for e in range(EPOCHS) if sorted(range(e + 1), key=val_loss.__getitem__).index(e) < TOP_K]
    assert entered[-1] < EPOCHS - 1, "the configuration should end on an epoch outside the top k"
    assert results[kind]["checkpoints"]["last.ckpt"]["keys"]["epoch"]["value"] == entered[-1]


@pytest.mark.parametrize("kind", ["lightning", "fabric"])
@pytest.mark.parametrize("path", ["best_predictions", "kept_epochs", "kept_files", "best_file", "state_dict"])
def test_same_checkpoints_and_predictions_as_plain_pytorch(results, kind, path):
    assert max_abs_difference(results[kind][path], results["pytorch"][path]) == 0.0


@pytest.mark.parametrize("kind", KINDS)
def test_best_predictions_come_from_the_best_checkpoint_not_the_final_model(results, kind):
    result = results[kind]
    program = load_program(TOPIC, kind)
    final = program.build_model()
    final.load_state_dict(result["state_dict"])
    final.eval()
    with torch.no_grad():
        final_predictions = final(program.make_data(0)[1].tensors[0])
    assert max_abs_difference(final_predictions, result["best_predictions"]) > 0
    best_epoch = int(result["best_file"][6:8])
    assert result["checkpoints"][result["best_file"]]["keys"]["epoch"]["value"] == best_epoch


def test_checkpoint_contents_plain_and_fabric_hold_what_they_were_given(results):
    for kind in ("pytorch", "fabric"):
        keys = results[kind]["checkpoints"]["last.ckpt"]["keys"]
        assert list(keys) == ["epoch", "global_step", "val_loss", "model", "optimizer"]
        assert keys["model"]["shapes"] == {"0.weight": [16, 10], "0.bias": [16], "2.weight": [2, 16], "2.bias": [2]}
        assert keys["model"]["tensor_bytes"] == 4 * (160 + 16 + 32 + 2)
    assert results["fabric"]["checkpoints"]["last.ckpt"]["keys"] == results["pytorch"]["checkpoints"]["last.ckpt"]["keys"]


def test_lightning_checkpoint_holds_more(results):
    keys = results["lightning"]["checkpoints"]["last.ckpt"]["keys"]
    plain = results["pytorch"]["checkpoints"]["last.ckpt"]["keys"]
    assert set(keys) == {"epoch", "global_step", "pytorch-lightning_version", "state_dict", "loops", "callbacks",
                         "optimizer_states", "lr_schedulers", "hparams_name", "hyper_parameters"}
    assert list(keys["state_dict"]["shapes"]) == [f"model.{k}" for k in plain["model"]["shapes"]]
    assert keys["state_dict"]["tensor_bytes"] == plain["model"]["tensor_bytes"]
    assert keys["optimizer_states"]["tensor_bytes"] == plain["optimizer"]["tensor_bytes"]
    assert keys["hyper_parameters"]["keys"] == ["lr"]
    assert set(keys["loops"]["keys"]) == {"fit_loop", "validate_loop", "test_loop", "predict_loop"}
    assert [k.startswith("ModelCheckpoint{") for k in keys["callbacks"]["keys"]] == [True]
    assert keys["global_step"]["value"] == plain["global_step"]["value"] == 13 * (keys["epoch"]["value"] + 1)
    sizes = {kind: results[kind]["checkpoints"]["last.ckpt"]["file_bytes"] for kind in KINDS}
    assert sizes["lightning"] > sizes["pytorch"]


def test_returned_values_hold_no_absolute_paths(results, folders):
    for kind in KINDS:
        text = json.dumps({k: v for k, v in results[kind].items() if k not in ("state_dict", "best_predictions")})
        assert str(folders[kind]) not in text and str(folders[kind].parent) not in text
