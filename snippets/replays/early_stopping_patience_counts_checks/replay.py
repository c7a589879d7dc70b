"""EarlyStopping's patience counts validation checks, not training epochs (Lightning #6254).

Validation runs every 3rd epoch and the validation loss never improves after the first
check (learning rate 0). With patience=2 a reader of "patience" in epochs expects training
to stop about 2 epochs after the best one; it stops 2 *checks* (6 epochs) later.
"""

import tempfile

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import EarlyStopping
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

PATIENCE = 2
CHECK_VAL_EVERY_N_EPOCH = 3


class Model(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(4, 1)
        self.validated_at = []

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.mse_loss(self.layer(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", nn.functional.mse_loss(self.layer(x), y))

    def on_validation_epoch_end(self):
        self.validated_at.append(self.current_epoch)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)  # the validation loss never improves


def run() -> dict:
    torch.manual_seed(0)
    x = torch.randn(32, 4)
    data = TensorDataset(x, x.sum(dim=1, keepdim=True))
    model = Model()
    stopper = EarlyStopping(monitor="val_loss", patience=PATIENCE)
    with tempfile.TemporaryDirectory() as root:
        trainer = pl.Trainer(
            max_epochs=30, check_val_every_n_epoch=CHECK_VAL_EVERY_N_EPOCH, num_sanity_val_steps=0,
            callbacks=[stopper], default_root_dir=root, logger=False, enable_checkpointing=False,
            enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
        )
        trainer.fit(model, DataLoader(data, batch_size=8), DataLoader(data, batch_size=8))
    best_epoch = model.validated_at[0]
    return {
        "patience": PATIENCE,
        "check_val_every_n_epoch": CHECK_VAL_EVERY_N_EPOCH,
        "validated_at_epochs": model.validated_at,
        "best_epoch": best_epoch,
        "stopped_epoch": stopper.stopped_epoch,
        "checks_after_best": len(model.validated_at) - 1,
        "epochs_after_best": stopper.stopped_epoch - best_epoch,
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")
