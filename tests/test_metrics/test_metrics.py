"""snippets/metrics: F1 and AUROC on a validation set split over two gloo ranks, each way, against the whole set."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, DistributedSampler

from evidence import declared
from evidence.programs import program_path
from evidence.running.measure import max_abs_difference
from tests.conftest import load_program, rank_exits, run_program

TOPIC = "metrics"
KINDS = ["pytorch", "lightning", "fabric"]
PUBLISHED = declared.run(TOPIC).params
"""The headline run's parameters (runs.toml): what the page shows."""
ONE_PROCESS = {**PUBLISHED, **declared.run(TOPIC, "one_process").params}
EXACT = 1e-6  # the checks' tolerance: within this of the whole-set number
COMPARED = [path for path in declared.run(TOPIC).compare if path != "state_dict"]
WHOLE_SET_METHODS = {"pytorch": ["val"], "lightning": ["val"], "fabric": ["val"]}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Each program's job, run lazily in its own folder: the frameworks' jobs only in the slow tests."""
    found, folder = {}, tmp_path_factory.mktemp("metrics")

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


def max_gap(a: list, b: list) -> float:
    return max(abs(x - y) for x, y in zip(a, b))


def whole_set(kind: str, result: dict) -> dict:
    """F1 and AUROC of the final weights (those the last validation used) over all 160 rows, by scikit-learn."""
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    program = load_program(TOPIC, kind)
    _, val_set = program.make_data(PUBLISHED["seed"])
    network = program.build_model()
    network.load_state_dict(result["state_dict"])
    with torch.no_grad():
        probs = network(val_set.tensors[0]).softmax(dim=1)[:, 1]
    y = val_set.tensors[1]
    assert len(y) == 160 and y.float().mean().item() == pytest.approx(0.3, abs=0.05)
    return {"f1": sklearn_metrics.f1_score(y, probs > 0.5), "auroc": sklearn_metrics.roc_auc_score(y, probs)}


def check_job(kind: str, result: dict):
    history = result["history"]
    assert result["device"] == "cpu"
    assert len(history["val_loss"]) == PUBLISHED["epochs"] and history["val_loss"][-1] < history["val_loss"][0]
    truth = whole_set(kind, result)
    for metric in ("f1", "auroc"):
        for method in WHOLE_SET_METHODS[kind]:
            assert history[f"{method}_{metric}"][-1] == pytest.approx(truth[metric], abs=EXACT), (method, metric)
        assert abs(history[f"batch_{metric}"][-1] - truth[metric]) > 1e-4


@pytest.mark.slow  # two-rank jobs
def test_plain_torchmetrics_gives_the_whole_set_number(results):
    check_job("pytorch", results("pytorch"))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_framework_metric_objects_give_the_whole_set_number_as_plain_pytorch_does(results, kind):
    check_job(kind, results(kind))
    assert max_abs_difference(results(kind)["state_dict"], results("pytorch")["state_dict"]) == 0.0
    for path in COMPARED:
        key = path.split(".")[1]
        assert max_gap(results(kind)["history"][key], results("pytorch")["history"][key]) <= EXACT, path


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_one_process_of_64_is_the_reference_every_epoch(results, kind):
    """The runs.toml checks, on the tests' own runs: whole-set methods on two ranks give the one process's
    numbers in every epoch; the per-batch averages do not, in any epoch."""
    two, one = results(kind)["history"], results(kind, "one_process")["history"]
    for metric in ("f1", "auroc"):
        for method in WHOLE_SET_METHODS[kind]:
            assert max_gap(two[f"{method}_{metric}"], one[f"val_{metric}"]) <= EXACT, (method, metric)
        assert min(abs(a - b) for a, b in zip(two[f"batch_{metric}"], one[f"val_{metric}"])) > 1e-4


def test_the_metric_objects_keep_counts_and_scores_and_reduce_them_across_ranks():
    """The page's account of the torchmetrics objects: F1's state is four counts summed over ranks,
    AUROC's every prediction and target, concatenated over ranks."""
    from torchmetrics.classification import BinaryAUROC, BinaryF1Score

    reductions = {name: {k: getattr(fx, "__name__", fx) for k, fx in metric._reductions.items()}
                  for name, metric in (("f1", BinaryF1Score()), ("auroc", BinaryAUROC()))}
    assert reductions == {"f1": dict.fromkeys(("tp", "fp", "tn", "fn"), "dim_zero_sum"),
                          "auroc": dict.fromkeys(("preds", "target"), "dim_zero_cat")}


def test_logging_the_value_instead_of_the_object_averages_batches():
    """One process, no DDP: what self.log does with a metric object and with what calling it returns."""
    from torchmetrics.classification import BinaryF1Score

    program = load_program(TOPIC, "lightning")

    class BothWays(program.Classifier):
        def __init__(self):
            super().__init__()
            self.called = BinaryF1Score()

        def validation_step(self, batch, batch_idx):
            x, y = batch
            probs = self.model(x).softmax(dim=1)[:, 1]
            self.val_f1.update(probs, y)
            self.log("object", self.val_f1)
            self.log("value", self.called(probs, y))

    pl.seed_everything(0, verbose=False)
    train_set, val_set = program.make_data(0)
    module = BothWays()
    trainer = pl.Trainer(max_epochs=1, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(module, DataLoader(train_set, batch_size=32), DataLoader(val_set, batch_size=32))
    with torch.no_grad():
        probs = module.model(val_set.tensors[0]).softmax(dim=1)[:, 1]
        per_batch = [(module.called(probs[i:i + 32], val_set.tensors[1][i:i + 32]), len(probs[i:i + 32]))
                     for i in range(0, 160, 32)]
    whole = BinaryF1Score()(probs, val_set.tensors[1]).item()
    weighted = (sum(f * n for f, n in per_batch) / 160).item()
    assert trainer.callback_metrics["object"].item() == pytest.approx(whole, abs=EXACT)
    assert trainer.callback_metrics["value"].item() == pytest.approx(weighted, abs=EXACT)
    assert abs(whole - weighted) > 1e-3


def test_an_uneven_set_is_padded_by_repeating_samples():
    shards = [list(DistributedSampler(range(161), num_replicas=2, rank=r, shuffle=False)) for r in (0, 1)]
    assert [len(s) for s in shards] == [81, 81]
    assert set(shards[0]) & set(shards[1]) == {0}
    shards = [list(DistributedSampler(range(160), num_replicas=2, rank=r, shuffle=False)) for r in (0, 1)]
    assert [len(s) for s in shards] == [80, 80] and not set(shards[0]) & set(shards[1])


def test_auroc_keeps_every_score_unless_given_thresholds():
    from torchmetrics.classification import BinaryAUROC

    exact, binned = BinaryAUROC(), BinaryAUROC(thresholds=200)
    assert isinstance(exact.preds, list) and isinstance(exact.target, list)
    exact.update(torch.rand(100), torch.randint(0, 2, (100,)))
    assert sum(len(p) for p in exact.preds) == 100
    assert binned.confmat.shape == (200, 2, 2)


def test_lightning_reduces_a_logged_tensor_as_weighted_sums_over_ranks():
    """The page's parity paragraph: sync_dist averages the sum and the sample count, then divides."""
    import inspect

    from pytorch_lightning.trainer.connectors.logger_connector.result import _ResultMetric

    source = inspect.getsource(_ResultMetric.compute)
    assert "value = self.meta.sync(self.value.clone())" in source
    assert "cumulated_batch_size = self.meta.sync(self.cumulated_batch_size)" in source
    assert "return value / cumulated_batch_size" in source


def test_every_program_names_torchmetrics_when_it_is_missing(tmp_path):
    hide = ("import runpy, sys; sys.modules['torchmetrics'] = None; sys.argv = sys.argv[1:]; "
            "runpy.run_path(sys.argv[0], run_name='__main__')")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    procs = {kind: subprocess.Popen([sys.executable, "-c", hide, str(program_path(TOPIC, kind)), "--epochs", "1"],
                                    cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for kind in KINDS}
    for kind, proc in procs.items():
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 1, (kind, err)
        assert err.strip().splitlines()[-1] == "error: this program needs torchmetrics: pip install torchmetrics"
        assert "Traceback" not in err


@pytest.mark.parametrize("kind", ["pytorch", pytest.param("lightning", marks=pytest.mark.slow),
                                  pytest.param("fabric", marks=pytest.mark.slow)])
def test_every_rank_ends_its_gloo_group_in_destroy_process_group(kind, tmp_path):
    """As on the DDP topic (tests/test_ddp): the group ends in the call, its gloo threads gone right after it."""
    ranks = rank_exits(program_path(TOPIC, kind), tmp_path, "--epochs", "1", "--device", "cpu", "--out-dir", "out")
    assert ranks == [{"after_destroy": [[]], "at_exit": [], "group_initialized": False}] * 2
