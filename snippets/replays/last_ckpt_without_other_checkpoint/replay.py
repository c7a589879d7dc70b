"""ModelCheckpoint(save_last=True) writes last.ckpt at an epoch's end although it saved no checkpoint.

Lightning issue #20245: the docs say save_last "saves a last.ckpt copy whenever a checkpoint file
gets saved", yet with a checkpoint due only every 30 minutes, last.ckpt appears at the end of every
epoch before any checkpoint was saved. Here a checkpoint is due every hour and the epochs take well
under a second: which files are there after each epoch?
"""

import datetime
import os
import tempfile

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class Regressor(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(3, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.mse_loss(self.layer(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


class ListFiles(Callback):
    """At the start of each epoch after the first: the checkpoint files the previous epochs left."""

    def __init__(self, folder):
        self.folder, self.found = folder, {}

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch > 0:
            names = os.listdir(self.folder) if os.path.isdir(self.folder) else []
            self.found[trainer.current_epoch - 1] = sorted(n for n in names if n.endswith(".ckpt"))


def run() -> dict:
    pl.seed_everything(0)
    x = torch.randn(16, 3)
    data = DataLoader(TensorDataset(x, x.sum(dim=1, keepdim=True)), batch_size=4)
    with tempfile.TemporaryDirectory() as root:
        ckpt_dir = os.path.join(root, "checkpoints")
        hourly = ModelCheckpoint(dirpath=ckpt_dir, filename="temp_backup", save_last=True,
                                 train_time_interval=datetime.timedelta(hours=1))
        files = ListFiles(ckpt_dir)
        trainer = pl.Trainer(max_epochs=3, accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                             enable_model_summary=False, default_root_dir=root, callbacks=[hourly, files])
        trainer.fit(Regressor(), data)
        after_fit = sorted(os.listdir(ckpt_dir)) if os.path.isdir(ckpt_dir) else []
    after_epoch_0 = files.found[0]
    return {
        "last_ckpt_after_epoch_0": "last.ckpt" in after_epoch_0,
        "other_checkpoints_after_epoch_0": sum(n != "last.ckpt" for n in after_epoch_0),
        "last_ckpt_after_epoch_1": "last.ckpt" in files.found[1],
        "last_ckpt_after_fit": "last.ckpt" in after_fit,
        "other_checkpoints_after_fit": sum(n != "last.ckpt" for n in after_fit),
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")
