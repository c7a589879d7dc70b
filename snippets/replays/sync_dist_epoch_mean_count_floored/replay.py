"""An epoch mean logged with sync_dist=True is too large when the ranks hold unequal sample counts.

Lightning issue #21859: the count behind an epoch-level mean is an integer tensor, and
sync_dist reduces it with a mean over the ranks; on gloo that mean is copied back into the integer
tensor, so it is floored. Rank 0 validates three samples of 1.0, rank 1 two samples of 5.0: the
sample-weighted mean is 13 / 5 = 2.6, the logged value (13 / 2) / floor(5 / 2) = 3.25.
Two CPU processes (ddp_spawn, gloo), one batch each.
"""

import tempfile

import pytorch_lightning as pl
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, IterableDataset

ROWS = {0: [1.0, 1.0, 1.0], 1: [5.0, 5.0]}  # what each rank validates, as one batch


class OneBatchPerRank(IterableDataset):
    def __iter__(self):
        yield torch.tensor(ROWS[dist.get_rank()])


class Probe(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(1, 1)

    def validation_step(self, batch, batch_idx):
        self.log("val_value", batch.mean(), sync_dist=True, batch_size=len(batch))


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
