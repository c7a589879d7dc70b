"""My "after the last validation epoch" code runs twice: once more in the sanity check.

Lightning issue #16269: code in the validation epoch-end hook guarded by
``current_epoch == max_epochs - 1`` (meant to run once, after the final validation) also runs
during the sanity check before training, where current_epoch is already 0. With max_epochs=1
it runs twice. The Trainer's defaults are kept (num_sanity_val_steps=2).
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
        self.final_reports = []  # what the "final epoch" code saw each time it ran

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.mse_loss(self.layer(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", nn.functional.mse_loss(self.layer(x), y))

    def on_validation_epoch_end(self):
        if self.current_epoch != self.trainer.max_epochs - 1:
            return
        # the expensive report meant for the final validation (images, tables, ...)
        self.final_reports.append({"epoch": self.current_epoch, "sanity_checking": self.trainer.sanity_checking,
                                   "global_step": self.global_step})

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def run() -> dict:
    pl.seed_everything(0)
    x = torch.randn(48, 4)
    y = x.sum(dim=1, keepdim=True)
    train = DataLoader(TensorDataset(x[:32], y[:32]), batch_size=8)
    val = DataLoader(TensorDataset(x[32:], y[32:]), batch_size=8)
    model = Net()
    with tempfile.TemporaryDirectory() as root:
        trainer = pl.Trainer(max_epochs=1, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False, default_root_dir=root)
        trainer.fit(model, train, val)
    return {
        "final_report_runs": len(model.final_reports),
        "runs_during_sanity_check": sum(r["sanity_checking"] for r in model.final_reports),
        "epochs_seen": [r["epoch"] for r in model.final_reports],
        "global_steps_seen": [r["global_step"] for r in model.final_reports],
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")
