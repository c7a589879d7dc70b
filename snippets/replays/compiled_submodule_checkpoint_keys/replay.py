"""A checkpoint of a LightningModule whose submodule was compiled does not load without compiling.

Lightning issue #17415 (and #20233): the network inside a LightningModule is wrapped with
torch.compile, so the checkpoint's weights are named `net._orig_mod.*`. Loading that checkpoint
into the same LightningModule built without compiling fails with missing and unexpected keys.
The "eager" backend keeps the replay fast on CPU; the key names come from torch.compile's
wrapper (`OptimizedModule`), whatever the backend.
"""

import os
import tempfile

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class LitModel(pl.LightningModule):
    def __init__(self, compile: bool = False):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
        if compile:
            self.net = torch.compile(self.net, backend="eager")

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.mse_loss(self.net(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def run() -> dict:
    pl.seed_everything(0)
    x = torch.randn(16, 3)
    data = DataLoader(TensorDataset(x, x.sum(dim=1, keepdim=True)), batch_size=4)
    with tempfile.TemporaryDirectory() as root:
        trainer = pl.Trainer(max_epochs=1, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False, default_root_dir=root)
        trainer.fit(LitModel(compile=True), data)
        path = os.path.join(root, "compiled.ckpt")
        trainer.save_checkpoint(path)
        keys = list(torch.load(path, map_location="cpu", weights_only=False)["state_dict"])
        try:
            LitModel.load_from_checkpoint(path, compile=False)  # the same module, not compiled
            loaded, error = True, ""
        except RuntimeError as err:
            loaded, error = False, " ".join(str(err).split())[:160]
    return {
        "first_checkpoint_key": keys[0],
        "checkpoint_keys_with_orig_mod": sum("_orig_mod." in k for k in keys),
        "checkpoint_keys": len(keys),
        "loads_without_compile": loaded,
        "load_error": error,
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")
