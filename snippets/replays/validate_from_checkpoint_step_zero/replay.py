"""trainer.validate(ckpt_path=...) runs with global_step and current_epoch at 0, not the checkpoint's.

Lightning issue #17127: validating a saved checkpoint afterwards with a new Trainer logs the metrics
at step 0, because global_step and the epoch are not taken from the checkpoint. Here a model trains
2 epochs of 4 steps, is saved, and a fresh Trainer validates the checkpoint: which step and epoch
does validation_step see?
"""

import os
import tempfile

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class Regressor(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(3, 1)
        self.seen_step, self.seen_epoch = None, None

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.mse_loss(self.layer(x), y)

    def validation_step(self, batch, batch_idx):
        self.seen_step, self.seen_epoch = self.trainer.global_step, self.trainer.current_epoch
        x, y = batch
        self.log("val_loss", nn.functional.mse_loss(self.layer(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def make_trainer(root):
    return pl.Trainer(max_epochs=2, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                      default_root_dir=root)


def run() -> dict:
    pl.seed_everything(0)
    x = torch.randn(24, 3)
    y = x.sum(dim=1, keepdim=True)
    train = DataLoader(TensorDataset(x[:16], y[:16]), batch_size=4)
    val = DataLoader(TensorDataset(x[16:], y[16:]), batch_size=4)
    with tempfile.TemporaryDirectory() as root:
        trained = Regressor()
        trainer = make_trainer(root)
        trainer.fit(trained, train, val)
        path = os.path.join(root, "trained.ckpt")
        trainer.save_checkpoint(path)
        saved = torch.load(path, map_location="cpu", weights_only=False)
        model = Regressor()
        make_trainer(root).validate(model, val, ckpt_path=path, verbose=False)  # a new Trainer, as afterwards
    return {
        "checkpoint_global_step": saved["global_step"],
        "checkpoint_epoch": saved["epoch"],
        "global_step_in_fit_validation": trained.seen_step,
        "global_step_during_validate": model.seen_step,
        "current_epoch_during_validate": model.seen_epoch,
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")
