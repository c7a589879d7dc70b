"""The epoch value of self.log is not the mean of the step values I collected myself.

Lightning issues #5539 and #2993: a validation loss logged from validation_step (an epoch-level
value) differs from the average of the same per-batch losses computed by hand at the end of the
epoch. Ten validation samples in batches of 4, 4 and 2: the last batch is smaller.
"""

import tempfile

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class Regressor(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(3, 1)
        self.step_losses, self.batch_sizes = [], []

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.mse_loss(self.layer(x), y)

    def on_validation_epoch_start(self):
        self.step_losses, self.batch_sizes = [], []

    def validation_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.mse_loss(self.layer(x), y)
        self.log("val_loss", loss)  # epoch-level by default in validation
        self.step_losses.append(loss)
        self.batch_sizes.append(len(x))

    def on_validation_epoch_end(self):
        # the user's own average of the step losses, as in the reports
        self.log("my_val_loss", torch.stack(self.step_losses).mean())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def run() -> dict:
    pl.seed_everything(0)
    x = torch.randn(26, 3)
    y = x.sum(dim=1, keepdim=True) + torch.randn(26, 1)
    train = DataLoader(TensorDataset(x[:16], y[:16]), batch_size=4)
    val = DataLoader(TensorDataset(x[16:], y[16:]), batch_size=4)  # 10 samples: batches of 4, 4, 2
    model = Regressor()
    with tempfile.TemporaryDirectory() as root:
        trainer = pl.Trainer(max_epochs=1, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                             default_root_dir=root)
        trainer.fit(model, train, val)
    losses = [float(v) for v in model.step_losses]
    weighted = sum(v * n for v, n in zip(losses, model.batch_sizes)) / sum(model.batch_sizes)
    return {
        "step_losses": losses,
        "batch_sizes": list(model.batch_sizes),
        "logged_val_loss": float(trainer.callback_metrics["val_loss"]),
        "my_val_loss": float(trainer.callback_metrics["my_val_loss"]),
        "sample_weighted_mean": weighted,
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")
