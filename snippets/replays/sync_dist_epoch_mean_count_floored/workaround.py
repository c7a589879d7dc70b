"""Workaround for Lightning issue #21859: log a torchmetrics MeanMetric instead of a tensor.

A MeanMetric keeps its weighted sum and its weight as floating-point states and reduces them
with a sum across the ranks, so no count is floored. Rank 0 validates three samples of 1.0,
rank 1 two samples of 5.0: the sample-weighted mean is 13 / 5 = 2.6.
Two CPU processes (ddp_spawn, gloo), one batch each.
"""

import tempfile

import pytorch_lightning as pl
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, IterableDataset
from torchmetrics import MeanMetric

ROWS = {0: [1.0, 1.0, 1.0], 1: [5.0, 5.0]}  # what each rank validates, as one batch


class OneBatchPerRank(IterableDataset):
    def __iter__(self):
        yield torch.tensor(ROWS[dist.get_rank()])


class Probe(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(1, 1)
        self.val_value = MeanMetric()

    def validation_step(self, batch, batch_idx):
        self.val_value.update(batch.mean(), weight=len(batch))
        self.log("val_value", self.val_value)  # Lightning computes (and syncs) it at the epoch end


def run() -> dict:
    val = DataLoader(OneBatchPerRank(), batch_size=None)
    with tempfile.TemporaryDirectory() as root:
        trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp_spawn", logger=False,
                             enable_progress_bar=False, enable_model_summary=False, default_root_dir=root)
        (metrics,) = trainer.validate(Probe(), val, verbose=False)  # rank 0's results
    rows = [v for r in ROWS.values() for v in r]
    return {
        "samples_per_rank": [len(r) for r in ROWS.values()],
        "logged_epoch_value": metrics["val_value"],
        "sample_weighted_mean": sum(rows) / len(rows),
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")
