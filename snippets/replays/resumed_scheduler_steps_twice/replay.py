"""After resuming, an epoch scheduler runs one epoch ahead when validation runs every 2 epochs.

Lightning issue #20495: with `check_val_every_n_epoch=2` and an epoch-interval scheduler, training
resumed from the checkpoint ModelCheckpoint wrote after epoch 3 gets the learning rate one epoch
too early. Here the rate halves every epoch (ExponentialLR), validation runs every 2 epochs, and the
resumed epochs' rates are compared with those of the same 6 epochs run without a break.
"""

import os
import tempfile

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class Regressor(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(3, 1)
        self.rates = {}

    def training_step(self, batch, batch_idx):
        self.rates.setdefault(self.current_epoch, self.trainer.optimizers[0].param_groups[0]["lr"])
        x, y = batch
        return nn.functional.mse_loss(self.layer(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", nn.functional.mse_loss(self.layer(x), y))

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=1.0)
        return [optimizer], [torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.5)]  # interval "epoch"


def make_trainer(root, **kwargs):
    return pl.Trainer(max_epochs=6, check_val_every_n_epoch=2, num_sanity_val_steps=0, accelerator="cpu",
                      devices=1, logger=False, enable_progress_bar=False, enable_model_summary=False,
                      default_root_dir=root, **kwargs)


def run() -> dict:
    pl.seed_everything(0)
    x = torch.randn(16, 3)
    y = x.sum(dim=1, keepdim=True)
    train = DataLoader(TensorDataset(x[:8], y[:8]), batch_size=4)
    val = DataLoader(TensorDataset(x[8:], y[8:]), batch_size=4)
    with tempfile.TemporaryDirectory() as root:
        uninterrupted = Regressor()
        ckpt_dir = os.path.join(root, "checkpoints")
        make_trainer(root, callbacks=[ModelCheckpoint(dirpath=ckpt_dir, filename="{epoch}", save_top_k=-1)]).fit(
            uninterrupted, train, val)
        saved = sorted(os.listdir(ckpt_dir))  # after epochs 1, 3 and 5, when validation runs
        resumed = Regressor()
        again = ModelCheckpoint(dirpath=ckpt_dir, filename="{epoch}", save_top_k=-1)  # as when the job restarts
        make_trainer(root, callbacks=[again]).fit(resumed, train, val, ckpt_path=os.path.join(ckpt_dir, "epoch=3.ckpt"))
    return {
        "checkpoints_written": len(saved),
        "uninterrupted_rates": [uninterrupted.rates[e] for e in sorted(uninterrupted.rates)],
        "resumed_epochs": sorted(resumed.rates),
        "resumed_rates": [resumed.rates[e] for e in sorted(resumed.rates)],
        "uninterrupted_rate_epoch_4": uninterrupted.rates[4],
        "resumed_rate_epoch_4": resumed.rates[4],
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")
