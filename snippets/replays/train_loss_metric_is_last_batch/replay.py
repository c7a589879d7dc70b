"""trainer.callback_metrics["train_loss"] after an epoch is the last batch's loss, not the epoch's.

Lightning issue #13147: `self.log("train_loss", loss)` in training_step uses mean reduction, yet
the value callbacks see at the end of the epoch (what ModelCheckpoint or EarlyStopping would
monitor) is the loss of the epoch's last batch: in training_step a value is logged per step by
default (on_step=True, on_epoch=False). One epoch of four batches of 8.
"""

import tempfile

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class Net(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(4, 1)
        self.step_losses = []

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.mse_loss(self.layer(x), y)
        self.log("train_loss", loss)
        self.step_losses.append(loss.item())
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


def run() -> dict:
    pl.seed_everything(0)
    x = torch.randn(32, 4)
    train = DataLoader(TensorDataset(x, x.sum(dim=1, keepdim=True) + torch.randn(32, 1)), batch_size=8)
    model = Net()
    with tempfile.TemporaryDirectory() as root:
        trainer = pl.Trainer(max_epochs=1, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False, default_root_dir=root)
        trainer.fit(model, train)
    return {
        "step_losses": model.step_losses,
        "callback_metrics_train_loss": float(trainer.callback_metrics["train_loss"]),
        "last_step_loss": model.step_losses[-1],
        "epoch_mean_loss": sum(model.step_losses) / len(model.step_losses),  # equal batches: the sample mean
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")
