"""snippets/ddp: two gloo ranks started by torchrun, equal weights across ranks and programs,
rank-0-only files, two ranks of 32 against one process of 64, and what `sync_dist=True` computes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from torch.nn import functional as F

from evidence import declared
from evidence.programs import program_path
from evidence.running.measure import max_abs_difference
from tests.conftest import exit_code, load_program, rank_exits, run_program

TOPIC = "ddp"
KINDS = ["pytorch", "lightning", "fabric"]
PUBLISHED = declared.run(TOPIC).params
ONE_PROCESS = {**PUBLISHED, **declared.run(TOPIC, "one_process").params}
HISTORY_TOLERANCE = 1e-6  # the loops divide all-reduced sums; Lightning divides its synced float32 sum and count
PROBE = Path(__file__).with_name("rank_probe.py")
SYNC_DIST_PROBE = Path(__file__).with_name("sync_dist_probe.py")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("ddp")


@pytest.fixture(scope="module")
def results(folder):
    """Each program's headline job, run lazily: the frameworks' jobs only in the slow tests."""
    found = {}

    def result(kind: str, run_name: str = "two_ranks"):
        if (kind, run_name) not in found:
            work = folder / f"{kind}-{run_name}"
            work.mkdir()
            with pytest.MonkeyPatch.context() as patch:
                patch.chdir(work)
                params = PUBLISHED if run_name == "two_ranks" else ONE_PROCESS
                found[kind, run_name] = run_program(TOPIC, kind, run_name, **params)
        return found[kind, run_name]

    return result


def rank_means(kind: str, result: dict) -> tuple[float, float]:
    """The last validation's loss over all samples, and the mean of the two ranks' own means, recomputed
    from the final weights (which the last validation used) on each rank's shards."""
    program = load_program(TOPIC, kind)
    _, val_set = program.make_data(PUBLISHED["seed"])
    model = program.build_model()
    model.load_state_dict(result["state_dict"])
    sums, counts = [], []
    with torch.no_grad():
        for rank in (0, 1):
            shards = val_set.shards[rank::2]
            x, y = torch.cat([s[0] for s in shards]), torch.cat([s[1] for s in shards])
            sums.append(F.cross_entropy(model(x), y, reduction="sum").item())
            counts.append(len(y))
    assert counts == [96, 64]  # 5 shards of 32: rank 0 reads shards 0, 2, 4 and rank 1 shards 1, 3
    return sum(sums) / sum(counts), sum(s / n for s, n in zip(sums, counts)) / 2


def check_job(kind: str, result: dict, expect_files: list[str]):
    assert result["device"] == "cpu"
    assert len(result["history"]["val_loss"]) == PUBLISHED["epochs"]
    assert result["history"]["val_loss"][-1] < result["history"]["val_loss"][0]
    assert all(any(name in f for f in result["files"]) for name in expect_files), result["files"]
    sample_mean, rank_mean = rank_means(kind, result)
    logged = result["history"]["val_loss"][-1]
    assert abs(logged - sample_mean) <= HISTORY_TOLERANCE
    assert abs(logged - rank_mean) > 100 * HISTORY_TOLERANCE


@pytest.mark.slow  # a two-rank job; the default run keeps one
def test_plain_job_logs_the_mean_over_samples(results):
    check_job("pytorch", results("pytorch"), ["metrics.csv", "checkpoint.pt"])


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_framework_jobs_log_the_mean_over_samples_and_match_plain_pytorch(results, kind):
    check_job(kind, results(kind), ["metrics.csv", ".ckpt"])
    assert max_abs_difference(results(kind)["state_dict"], results("pytorch")["state_dict"]) == 0.0
    assert max_abs_difference(results(kind)["history"], results("pytorch")["history"]) <= HISTORY_TOLERANCE


@pytest.mark.parametrize("kind", ["pytorch", pytest.param("lightning", marks=pytest.mark.slow),
                                  pytest.param("fabric", marks=pytest.mark.slow)])
def test_ranks_end_with_equal_weights_and_only_rank_0_writes(kind, tmp_path):
    """Also the same work in every program: rank 0 saves a checkpoint after every epoch (the probe trains
    two), Lightning through its default ModelCheckpoint, the others in their loops."""
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
    job = subprocess.run([*torchrun, str(PROBE), kind, "out", str(tmp_path)], cwd=tmp_path, capture_output=True,
                         text=True, timeout=600)
    assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{rank}.pt") for rank in (0, 1)]
    assert max_abs_difference(ranks[0]["state_dict"], ranks[1]["state_dict"]) == 0.0
    assert ranks[1]["writes"] == [] and ranks[1]["saves"] == 0
    assert ranks[0]["saves"] == 2
    assert any("metrics.csv" in w for w in ranks[0]["writes"]) and any("ckpt" in w or ".pt" in w
                                                                       for w in ranks[0]["writes"])


def test_lightning_leaves_a_gloo_process_group_to_the_interpreters_teardown(tmp_path):
    """Lightning registers its atexit handler that destroys the process group only for NCCL
    (lightning_fabric.utilities.distributed._init_dist_connection, since 2.3.0): a gloo group
    Lightning started is still initialized when the interpreter's own teardown begins. Such a
    group's worker threads can abort that teardown ("terminate called without an active
    exception", pytorch/pytorch#65513), which is why the Lightning and Fabric programs call
    destroy_process_group() at the end of train(), as the plain one does."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import atexit\n"
        "import torch.distributed as dist\n"
        "from lightning_fabric.plugins.environments import LightningEnvironment\n"
        "from lightning_fabric.utilities.distributed import _init_dist_connection\n"
        "atexit.register(lambda: print('group at exit:', dist.is_initialized()))  # first in, runs last\n"
        "environment = LightningEnvironment()\n"
        "environment.set_world_size(1)\n"
        "environment.set_global_rank(0)\n"
        "_init_dist_connection(environment, 'gloo')\n"
        "print('group started:', dist.is_initialized())\n"
        "if len(__import__('sys').argv) > 1:\n"
        "    dist.destroy_process_group()\n")
    for destroy, left in (([], "True"), (["destroy"], "False")):
        job = subprocess.run([sys.executable, str(probe), *destroy], cwd=tmp_path, capture_output=True, text=True,
                             timeout=120)
        assert job.returncode == 0, job.stderr[-3000:]
        assert job.stdout.splitlines()[-2:] == ["group started: True", f"group at exit: {left}"], job.stdout


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_two_ranks_of_32_train_like_one_process_of_64(results, kind):
    """The runs.toml checks one_process_weights and sample_mean, on the tests' own runs."""
    two, one = results(kind), results(kind, "one_process")
    assert 0 < max_abs_difference(two["state_dict"], one["state_dict"]) <= 1e-6
    assert max_abs_difference(two["history"]["val_loss"], one["history"]["val_loss"]) <= HISTORY_TOLERANCE


@pytest.mark.slow
def test_sync_dist_epoch_value_syncs_sum_and_count_step_value_averages_ranks(tmp_path):
    """The claims of the page's sync_dist note, on two gloo ranks (tests/test_ddp/sync_dist_probe.py)."""
    out = tmp_path / "probe.json"
    proc = subprocess.run([sys.executable, str(SYNC_DIST_PROBE), str(out)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0 and out.is_file(), proc.stdout[-3000:] + proc.stderr[-3000:]
    found = json.loads(out.read_text())
    # rank 0: three samples of 1.0; rank 1: one sample of 5.0. Epoch value: (3 + 5) / 4; per step: (1 + 5) / 2
    assert found["one_sample_of_5"] == {"epoch_value": 2.0, "step_value": 3.0}
    # rank 1: two samples of 5.0. The sample-weighted mean is 13 / 5 = 2.6, but the synced count is the
    # integer mean of 3 and 2, floored to 2, so the value is (13 / 2) / 2 (Lightning issue #21859)
    assert found["two_samples_of_5"] == {"epoch_value": 3.25, "step_value": 3.0}


def test_old_gpus_argument_is_a_type_error():
    with pytest.raises(TypeError, match="unexpected keyword argument 'gpus'"):
        pl.Trainer(gpus=2, accelerator="gpu")


@pytest.mark.skipif(torch.cuda.device_count() >= 2, reason="checks the message shown without two GPUs")
@pytest.mark.parametrize("kind", KINDS)
def test_cuda_without_two_gpus_is_a_clear_error(kind, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert exit_code(load_program(TOPIC, kind).main, ["--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "2 CUDA GPUs" in err, err


@pytest.mark.parametrize("kind", ["pytorch", pytest.param("lightning", marks=pytest.mark.slow),
                                  pytest.param("fabric", marks=pytest.mark.slow)])
def test_every_rank_ends_its_gloo_group_in_destroy_process_group(kind, tmp_path):
    """Run as a reader runs it, every rank calls destroy_process_group() once and the group ends in that
    call: its gloo threads are gone right after it. A group something else still holds ends later: freed
    with a DDP wrapper's reducer it can deadlock the rank, and left to the interpreter's teardown it can
    abort the finished rank (the next test, and tools/teardown_repro.py, which counts both)."""
    ranks = rank_exits(program_path(TOPIC, kind), tmp_path, "--epochs", "1", "--device", "cpu", "--out-dir", "out")
    assert ranks == [{"after_destroy": [[]], "at_exit": [], "group_initialized": False}] * 2


def test_torch_distributed_nn_imported_after_the_group_starts_keeps_it_alive(tmp_path):
    """Why the plain programs import torch.distributed.nn before init_process_group. Imported later (as
    constructing DistributedDataParallel imports it in torch 2.13, through torch._dynamo), its functions
    take the default group as a default argument (`group=group.WORLD`, evaluated at import), so the group
    and its gloo threads outlive destroy_process_group() until the interpreter's teardown, where the
    threads can abort the finished process ("terminate called without an active exception";
    tools/teardown_repro.py counts it). Lightning and Fabric import torch._dynamo when they are imported,
    before any group exists. If this test fails, torch no longer holds the group and the import can go."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import sys\n"
        "import torch.distributed as dist\n"
        "if 'first' in sys.argv:\n"
        "    import torch.distributed.nn\n"
        "dist.init_process_group('gloo')\n"
        "import torch.distributed.nn\n"
        "dist.destroy_process_group()\n")
    after, first = (rank_exits(probe, tmp_path, order, ranks=1)[0]["after_destroy"] for order in ("after", "first"))
    assert first == [[]]
    assert after != [[]], "torch.distributed.nn no longer holds the default group: the workaround can go"
