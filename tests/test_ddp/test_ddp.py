"""snippets/ddp: two gloo ranks per program, equal weights across ranks and programs, rank-0-only files."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch

from evidence.running.measure import max_abs_difference
from tests.conftest import load_program

TOPIC = "ddp"
KINDS = ["pytorch", "lightning", "fabric"]
HISTORY_TOLERANCE = 1e-6  # Lightning's sync_dist averages per-rank means; the loops sum, then divide


@pytest.fixture(scope="module")
def plain():
    return load_program(TOPIC, "pytorch").run(epochs=2, seed=0, device="cpu")


@pytest.fixture(scope="module")
def frameworks():
    return {kind: load_program(TOPIC, kind).run(epochs=2, seed=0, device="cpu") for kind in ("lightning", "fabric")}


def check_job(result, expect_files):
    assert result["world_size"] == 2 and result["device"] == "cpu"
    assert result["rank_weight_difference"] == 0.0
    assert [r["rank"] for r in result["ranks"]] == [0, 1]
    # each rank trained on its own half of the 512 training samples, in 8 batches per epoch
    assert [r["samples_last_epoch"] for r in result["ranks"]] == [256, 256]
    assert [r["steps"] for r in result["ranks"]] == [16, 16]
    assert result["ranks"][1]["writes"] == []
    assert set(result["ranks"][0]["writes"]) >= set(result["files"]) and result["files"]
    assert all(any(name in f for f in result["files"]) for name in expect_files)
    assert result["history"]["val_loss"][-1] < result["history"]["val_loss"][0]


def test_plain_ranks_end_equal_and_only_rank_0_writes(plain):
    check_job(plain, ["metrics.csv", "checkpoint.pt"])
    assert plain["log_lines"] == [2, 0]  # two epoch lines, all from rank 0


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_framework_ranks_end_equal_and_only_rank_0_writes(frameworks, kind):
    check_job(frameworks[kind], ["metrics.csv", ".ckpt"])


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_final_weights_identical_to_plain_pytorch(plain, frameworks, kind):
    assert max_abs_difference(frameworks[kind]["state_dict"], plain["state_dict"]) == 0.0
    assert max_abs_difference(frameworks[kind]["history"], plain["history"]) <= HISTORY_TOLERANCE


@pytest.mark.slow
def test_different_seed_gives_different_weights(plain):
    other = load_program(TOPIC, "pytorch").run(epochs=1, seed=1, device="cpu")
    assert max_abs_difference(other["state_dict"], plain["state_dict"]) > 0


def test_old_gpus_argument_is_a_type_error():
    with pytest.raises(TypeError, match="unexpected keyword argument 'gpus'"):
        pl.Trainer(gpus=2, accelerator="gpu")


@pytest.mark.skipif(torch.cuda.device_count() >= 2, reason="checks the message shown without two GPUs")
@pytest.mark.parametrize("kind", KINDS)
def test_cuda_without_two_gpus_is_a_clear_error(kind, capsys):
    assert load_program(TOPIC, kind).main(["--device", "cuda"]) == 2
    assert capsys.readouterr().err.strip().startswith("error: --device cuda needs 2 CUDA GPUs, found")
