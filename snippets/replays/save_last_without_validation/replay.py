"""save_last=True writes no last.ckpt when checkpoints wait for a validation that never runs.

Lightning PR #20960 ("Fix save_last behavior in absence of validation", for issue #20200): a model
without a validation loop, ModelCheckpoint(save_last=True, save_on_train_epoch_end=False), two
epochs. The callback saves at validation end, which never comes: is there a last.ckpt at the end?
"""

import os
import tempfile

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class Regressor(pl.LightningModule):  # no validation_step, no val_dataloader
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(3, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.mse_loss(self.layer(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def run() -> dict:
    pl.seed_everything(0)
    x = torch.randn(16, 3)
    data = DataLoader(TensorDataset(x, x.sum(dim=1, keepdim=True)), batch_size=4)
    with tempfile.TemporaryDirectory() as root:
        ckpt_dir = os.path.join(root, "checkpoints")
        checkpoint = ModelCheckpoint(dirpath=ckpt_dir, save_last=True, save_on_train_epoch_end=False)
        trainer = pl.Trainer(max_epochs=2, accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                             enable_model_summary=False, default_root_dir=root, callbacks=[checkpoint])
        trainer.fit(Regressor(), data)
        names = sorted(os.listdir(ckpt_dir)) if os.path.isdir(ckpt_dir) else []
        last_epoch = -1  # no last.ckpt
        if "last.ckpt" in names:
            last_epoch = torch.load(os.path.join(ckpt_dir, "last.ckpt"), map_location="cpu", weights_only=False)["epoch"]
    return {
        "last_ckpt_written": "last.ckpt" in names,
        "checkpoint_files": len(names),
        "last_ckpt_epoch": last_epoch,
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")
