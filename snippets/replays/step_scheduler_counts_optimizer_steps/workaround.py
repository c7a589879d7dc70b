"""Workaround for Lightning #12894: size a step-interval schedule in optimizer steps with
Trainer.estimated_stepping_batches, which accounts for gradient accumulation.

Same run as replay.py (16 batches, accumulate_grad_batches=4); the cosine schedule now spans the
4 optimizer steps and ends at its minimum.
"""

import tempfile

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

BATCHES = 16
ACCUMULATE = 4
LR = 0.1


class Model(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(4, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.mse_loss(self.layer(x), y)

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=LR)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=self.trainer.estimated_stepping_batches)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def run() -> dict:
    torch.manual_seed(0)
    x = torch.randn(BATCHES * 4, 4)
    model = Model()
    with tempfile.TemporaryDirectory() as root:
        trainer = pl.Trainer(
            max_epochs=1, accumulate_grad_batches=ACCUMULATE, default_root_dir=root, logger=False,
            enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
        )
        trainer.fit(model, DataLoader(TensorDataset(x, x.sum(dim=1, keepdim=True)), batch_size=4))
    scheduler = trainer.lr_scheduler_configs[0].scheduler
    return {
        "batches": BATCHES,
        "accumulate_grad_batches": ACCUMULATE,
        "optimizer_steps": trainer.global_step,
        "scheduler_steps": scheduler.last_epoch,
        "schedule_length": scheduler.T_max,
        "final_lr": scheduler.get_last_lr()[0],
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")
