"""snippets/ddp: each program started as a reader starts it, two gloo ranks, equal weights across ranks and
programs, rank-0-only files, and what `sync_dist=True` computes when the ranks hold different numbers of samples."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from evidence.running.measure import max_abs_difference
from tests.conftest import load_program

TOPIC = "ddp"
KINDS = ["pytorch", "lightning", "fabric"]
HISTORY_TOLERANCE = 1e-6  # the loops divide all-reduced sums; Lightning divides its synced float32 sum and count
PROBE = Path(__file__).with_name("sync_dist_probe.py")


@pytest.fixture(scope="module")
def plain():
    return load_program(TOPIC, "pytorch").run(epochs=2, seed=0, device="cpu")


@pytest.fixture(scope="module")
def frameworks():
    return {kind: load_program(TOPIC, kind).run(epochs=2, seed=0, device="cpu") for kind in ("lightning", "fabric")}


def check_job(result, expect_files):
    assert result["world_size"] == 2 and result["device"] == "cpu"
    assert result["rank_weight_difference"] == 0.0
    ranks = result["ranks"]
    assert [r["rank"] for r in ranks] == [0, 1]
    # each rank trained on its own half of the 512 training samples, in 8 batches per epoch
    assert [r["train_samples"] for r in ranks] == [256, 256]
    assert [r["steps"] for r in ranks] == [16, 16]
    # the 160 validation rows are 5 shards of 32: rank 0 reads shards 1, 3, 5 and rank 1 shards 2, 4
    assert [r["val_samples"] for r in ranks] == [96, 64]
    assert ranks[1]["writes"] == []
    assert set(ranks[0]["writes"]) >= set(result["files"]) and result["files"]
    assert all(any(name in f for f in result["files"]) for name in expect_files)
    assert result["history"]["val_loss"][-1] < result["history"]["val_loss"][0]


def sample_weighted_mean(result) -> float:
    return sum(r["val_loss_sum"] for r in result["ranks"]) / sum(r["val_samples"] for r in result["ranks"])


def rank_weighted_mean(result) -> float:
    return sum(r["val_loss_sum"] / r["val_samples"] for r in result["ranks"]) / len(result["ranks"])


def test_plain_ranks_end_equal_and_only_rank_0_writes(plain):
    check_job(plain, ["metrics.csv", "checkpoint.pt"])
    assert plain["command"] == "python pytorch_ddp.py"


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_framework_ranks_end_equal_and_only_rank_0_writes(frameworks, kind):
    check_job(frameworks[kind], ["metrics.csv", ".ckpt"])
    assert frameworks[kind]["command"] == f"python {kind}_ddp.py"


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_final_weights_identical_to_plain_pytorch(plain, frameworks, kind):
    assert max_abs_difference(frameworks[kind]["state_dict"], plain["state_dict"]) == 0.0
    assert max_abs_difference(frameworks[kind]["history"], plain["history"]) <= HISTORY_TOLERANCE


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_logged_val_loss_weights_samples_not_ranks(plain, frameworks, kind):
    # the last validation ran on the final weights, which each rank's record evaluates on its own shard
    result = plain if kind == "pytorch" else frameworks[kind]
    logged = result["history"]["val_loss"][-1]
    assert abs(logged - sample_weighted_mean(result)) <= HISTORY_TOLERANCE
    assert abs(logged - rank_weighted_mean(result)) > 100 * HISTORY_TOLERANCE


@pytest.mark.slow
def test_sync_dist_epoch_value_syncs_sum_and_count_step_value_averages_ranks(tmp_path):
    """The claims of the page's sync_dist note, on two gloo ranks (tests/test_ddp/sync_dist_probe.py)."""
    out = tmp_path / "probe.json"
    proc = subprocess.run([sys.executable, str(PROBE), str(out)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0 and out.is_file(), proc.stdout[-3000:] + proc.stderr[-3000:]
    found = json.loads(out.read_text())
    # rank 0: three samples of 1.0; rank 1: one sample of 5.0. Epoch value: (3 + 5) / 4; per step: (1 + 5) / 2
    assert found["one_sample_of_5"] == {"epoch_value": 2.0, "step_value": 3.0}
    # rank 1: two samples of 5.0. The sample-weighted mean is 13 / 5 = 2.6, but the synced count is the
    # integer mean of 3 and 2, floored to 2, so the value is (13 / 2) / 2 (Lightning issue #21859)
    assert found["two_samples_of_5"] == {"epoch_value": 3.25, "step_value": 3.0}


@pytest.mark.slow
def test_different_seed_gives_different_weights(plain):
    other = load_program(TOPIC, "pytorch").run(epochs=1, seed=1, device="cpu")
    assert max_abs_difference(other["state_dict"], plain["state_dict"]) > 0


def test_old_gpus_argument_is_a_type_error():
    with pytest.raises(TypeError, match="unexpected keyword argument 'gpus'"):
        pl.Trainer(gpus=2, accelerator="gpu")


@pytest.mark.skipif(torch.cuda.device_count() >= 2, reason="checks the message shown without two GPUs")
@pytest.mark.parametrize("kind", KINDS)
def test_cuda_without_two_gpus_is_a_clear_error(kind, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_program(TOPIC, kind).main(["--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    assert "cuda" in err.lower() or "gpu" in err.lower(), err
