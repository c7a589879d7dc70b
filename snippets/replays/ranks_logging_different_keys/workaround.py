"""Workaround for Lightning issue #21409: every rank logs the same names.

self.log's docs ask for names that are identical on all processes. Each rank keeps a sum and a
count per metric (zero where it has none), the ranks add them up (the strategy's reduce) at the end
of the epoch, and every rank logs every metric. Two CPU processes (ddp_spawn, gloo), one
validation batch each.
"""

import tempfile

import pytorch_lightning as pl
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, IterableDataset

VALUES = {"val_metric_a": 0.5, "val_metric_b": 0.7}  # rank 0 logs the first, rank 1 the second


class OneBatchPerRank(IterableDataset):
    def __iter__(self):
        x = torch.randn(4, 4, generator=torch.Generator().manual_seed(dist.get_rank()))
        yield x, x.sum(dim=1, keepdim=True)


class Net(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(4, 1)

    def on_validation_epoch_start(self):
        self.totals = torch.zeros(len(VALUES), 2)  # per metric: sum of values, number of values

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", nn.functional.mse_loss(self.layer(x), y), sync_dist=True)
        name = "val_metric_a" if self.global_rank == 0 else "val_metric_b"
        self.totals[list(VALUES).index(name)] += torch.tensor([VALUES[name], 1.0])

    def on_validation_epoch_end(self):
        totals = self.trainer.strategy.reduce(self.totals.clone(), reduce_op="sum")  # the same on every rank
        for name, (total, count) in zip(VALUES, totals):
            self.log(name, total / count, sync_dist=True)  # the same names on every rank


def run() -> dict:
    pl.seed_everything(0)
    val = DataLoader(OneBatchPerRank(), batch_size=None)
    with tempfile.TemporaryDirectory() as root:
        trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp_spawn", logger=False,
                             enable_progress_bar=False, enable_model_summary=False, default_root_dir=root)
        (metrics,) = trainer.validate(Net(), val, verbose=False)  # rank 0's results
    return {
        "rank0_logged_keys": sorted(metrics),
        "rank0_value_logged_as_val_metric_a": VALUES["val_metric_a"],
        "rank1_value_logged_as_val_metric_b": VALUES["val_metric_b"],
        "val_metric_a_result": metrics["val_metric_a"],
        "val_metric_b_result": metrics["val_metric_b"],
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")
