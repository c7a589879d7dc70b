"""Workaround for #18780: a resumable data loader, one with `state_dict` / `load_state_dict`.

Lightning's warning itself names the remedy ("make your dataloader resumable by implementing the
`state_dict` / `load_state_dict` interface"): since 2.2.0 (#19361) the Trainer saves the state of a
training loader that has these methods in the checkpoint and hands it back on resume. This loader
counts the batches of the epoch it has handed out and skips them when it is given that count back.
"""

import os
import tempfile
import warnings

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class Regressor(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(1, 1)
        self.batches = []  # the data batch each training_step received

    def training_step(self, batch, batch_idx):
        index, x, y = batch
        self.batches.append(int(index[0]) // 2)
        return nn.functional.mse_loss(self.layer(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


class ResumableLoader(DataLoader):
    """A DataLoader that knows how many batches of the current epoch it has handed out."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.served, self.skip = 0, 0

    def __iter__(self):
        skip, self.skip = self.skip, 0
        self.served = skip
        for i, batch in enumerate(super().__iter__()):
            if i >= skip:
                self.served = i + 1
                yield batch

    def state_dict(self):
        return {"served": self.served}

    def load_state_dict(self, state_dict):
        self.skip = state_dict["served"] % len(self)  # a finished epoch starts the next one from its first batch


def make_loader():
    x = torch.randn(24, 1, generator=torch.Generator().manual_seed(0))  # the same data in both runs
    return ResumableLoader(TensorDataset(torch.arange(24), x, 2 * x), batch_size=2)  # 12 batches, not shuffled


def make_trainer(root, ckpt_dir, **kwargs):
    every_5 = ModelCheckpoint(dirpath=ckpt_dir, save_top_k=-1, every_n_train_steps=5)
    return pl.Trainer(max_epochs=1, accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                      enable_model_summary=False, default_root_dir=root, callbacks=[every_5], **kwargs)


def run() -> dict:
    pl.seed_everything(0)
    with tempfile.TemporaryDirectory() as root:
        ckpt_dir = os.path.join(root, "checkpoints")
        interrupted = Regressor()
        make_trainer(root, ckpt_dir, max_steps=5).fit(interrupted, make_loader())  # the job's time runs out
        path = os.path.join(ckpt_dir, os.listdir(ckpt_dir)[0])
        resumed = Regressor()
        with warnings.catch_warnings(record=True) as caught:
            make_trainer(root, ckpt_dir).fit(resumed, make_loader(), ckpt_path=path)
    trained = interrupted.batches + resumed.batches
    return {
        "batches_before_interruption": interrupted.batches,
        "batches_after_resume": resumed.batches,
        "first_batch_after_resume": resumed.batches[0],
        "next_batch_of_the_epoch": len(interrupted.batches),
        "batches_trained_twice": sum(trained.count(b) > 1 for b in range(12)),
        "batches_never_trained": sum(b not in trained for b in range(12)),
        "warned_about_mid_epoch": any("before the epoch ended" in str(w.message) for w in caught),
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")
