"""Two ranks log different metric names with sync_dist=True: the values are silently mixed.

Lightning issue #21409: in DDP, rank 0 logs ["val_loss", "val_metric_a"] while rank 1 logs
["val_loss", "val_metric_b"]. Nothing warns, and rank 0's val_metric_a comes out as the mean of
its own 0.5 and rank 1's val_metric_b (0.7). Two CPU processes (ddp_spawn, gloo), one validation
batch each.
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

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", nn.functional.mse_loss(self.layer(x), y), sync_dist=True)
        name = "val_metric_a" if self.global_rank == 0 else "val_metric_b"
        self.log(name, torch.tensor(VALUES[name]), sync_dist=True)


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
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")
