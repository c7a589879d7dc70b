"""An int val_check_interval counts training batches, not optimizer steps, under gradient accumulation
(Lightning #12205, #17207).

One epoch of 16 batches with accumulate_grad_batches=4 and val_check_interval=8: a user who reads
"every 8 steps" as optimizer steps (global_step) expects the first validation at global_step 8;
it runs after 8 batches, that is 2 optimizer steps.
"""

import tempfile

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

ACCUMULATE = 4
VAL_CHECK_INTERVAL = 8


class Model(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(4, 1)
        self.validated_at_global_step = []

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.mse_loss(self.layer(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.mse_loss(self.layer(x), y)

    def on_validation_epoch_end(self):
        if not self.trainer.sanity_checking:
            self.validated_at_global_step.append(self.trainer.global_step)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def run() -> dict:
    torch.manual_seed(0)
    x = torch.randn(64, 4)
    data = TensorDataset(x, x.sum(dim=1, keepdim=True))
    model = Model()
    with tempfile.TemporaryDirectory() as root:
        trainer = pl.Trainer(
            max_epochs=1, accumulate_grad_batches=ACCUMULATE, val_check_interval=VAL_CHECK_INTERVAL,
            num_sanity_val_steps=0, default_root_dir=root, logger=False, enable_checkpointing=False,
            enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
        )
        trainer.fit(model, DataLoader(data, batch_size=4), DataLoader(data, batch_size=16))
    return {
        "batches": trainer.num_training_batches,
        "accumulate_grad_batches": ACCUMULATE,
        "val_check_interval": VAL_CHECK_INTERVAL,
        "global_step_at_validations": model.validated_at_global_step,
        "optimizer_steps": trainer.global_step,
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")
