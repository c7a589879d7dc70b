"""on_train_epoch_end runs after the epoch's validation, not between training and validation
(Lightning #9811, #8670).

A user who computes a training-epoch summary in on_train_epoch_end and reads it in
on_validation_epoch_end gets the previous epoch's value: the replay records the order of the
epoch-level hooks in one epoch, and which epoch's training summary validation saw.
"""

import tempfile

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class Model(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(4, 1)
        self.calls = []
        self.summary_epoch = None  # the epoch whose training summary was computed last
        self.summary_seen_by_validation = []

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.mse_loss(self.layer(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.mse_loss(self.layer(x), y)

    def on_train_epoch_start(self):
        self.calls.append("on_train_epoch_start")

    def on_validation_epoch_start(self):
        self.calls.append("on_validation_epoch_start")

    def on_validation_epoch_end(self):
        self.calls.append("on_validation_epoch_end")
        self.summary_seen_by_validation.append(-1 if self.summary_epoch is None else self.summary_epoch)

    def on_train_epoch_end(self):
        self.calls.append("on_train_epoch_end")
        self.summary_epoch = self.current_epoch

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def run() -> dict:
    torch.manual_seed(0)
    x = torch.randn(16, 4)
    data = TensorDataset(x, x.sum(dim=1, keepdim=True))
    model = Model()
    with tempfile.TemporaryDirectory() as root:
        trainer = pl.Trainer(
            max_epochs=2, num_sanity_val_steps=0, default_root_dir=root, logger=False, enable_checkpointing=False,
            enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
        )
        trainer.fit(model, DataLoader(data, batch_size=4), DataLoader(data, batch_size=8))
    first_epoch = model.calls[:4]
    return {
        "hook_order_epoch_0": ", ".join(first_epoch),
        "on_validation_epoch_end_position": first_epoch.index("on_validation_epoch_end"),
        "on_train_epoch_end_position": first_epoch.index("on_train_epoch_end"),
        "training_summary_epoch_seen_by_validation": model.summary_seen_by_validation,
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")
