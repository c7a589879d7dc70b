"""Resumed from a checkpoint saved every n steps, training restarts one batch index behind.

Lightning issues #18060 and #19815: ModelCheckpoint(every_n_train_steps=...) saves from
on_train_batch_end, before the loop counts the batch as completed, so the checkpoint's batch
progress reads `completed = processed - 1`. Resumed from it, the first training_step saw a batch_idx
one lower than the uninterrupted run at the same global step (the batch is run again, #19815).
The setup is the one in PR #20379: 12 batches per epoch, a checkpoint at step 10, resumed to step 20.
"""

import os
import tempfile

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class Regressor(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(3, 1)
        self.seen = []  # (global_step, batch_idx) at each training_step
        self.epoch_starts = {}  # epoch: global step of its first training_step

    def training_step(self, batch, batch_idx):
        self.seen.append((self.trainer.global_step, batch_idx))
        self.epoch_starts.setdefault(self.current_epoch, self.trainer.global_step)
        x, y = batch
        return nn.functional.mse_loss(self.layer(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def make_trainer(root, max_steps, **kwargs):
    return pl.Trainer(max_steps=max_steps, accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                      enable_model_summary=False, default_root_dir=root, **kwargs)


def run() -> dict:
    pl.seed_everything(0)
    x = torch.randn(24, 3)
    data = DataLoader(TensorDataset(x, x.sum(dim=1, keepdim=True)), batch_size=2)  # 12 batches per epoch
    with tempfile.TemporaryDirectory() as root:
        ckpt_dir = os.path.join(root, "checkpoints")
        every_10 = ModelCheckpoint(dirpath=ckpt_dir, save_top_k=-1, every_n_train_steps=10)
        make_trainer(root, 10, callbacks=[every_10]).fit(Regressor(), data)
        path = os.path.join(ckpt_dir, os.listdir(ckpt_dir)[0])
        saved = torch.load(path, map_location="cpu", weights_only=False)["loops"]["fit_loop"]
        saved = saved["epoch_loop.batch_progress"]["total"]
        resumed = Regressor()
        again = ModelCheckpoint(dirpath=ckpt_dir, save_top_k=-1, every_n_train_steps=10)
        make_trainer(root, 20, callbacks=[again]).fit(resumed, data, ckpt_path=path)
        uninterrupted = Regressor()
        make_trainer(root, 20, enable_checkpointing=False).fit(uninterrupted, data)
    step, batch_idx = resumed.seen[0]
    return {
        "saved_batches_processed": saved["processed"],
        "saved_batches_completed": saved["completed"],
        "global_step_at_resume": step,
        "first_batch_idx_after_resume": batch_idx,
        "uninterrupted_batch_idx_at_that_step": dict(uninterrupted.seen)[step],
        "resumed_epoch_1_starts_at_step": resumed.epoch_starts[1],
        "uninterrupted_epoch_1_starts_at_step": uninterrupted.epoch_starts[1],
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")
