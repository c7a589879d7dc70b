"""Workaround for #17415: compile the whole LightningModule instead of its submodule.

Lightning's compile guide shows `model = torch.compile(model)` before `trainer.fit(model)`; the
Trainer unwraps the compiled LightningModule (`_maybe_unwrap_optimized` in
`pytorch_lightning/utilities/compile.py`), so the checkpoint's weights keep their plain names
(`net.*`) and load into the module built without compiling. The "eager" backend keeps the replay
fast on CPU.
"""

import os
import tempfile

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class LitModel(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))

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
        trainer.fit(torch.compile(LitModel(), backend="eager"), data)  # the whole LightningModule compiled
        path = os.path.join(root, "compiled.ckpt")
        trainer.save_checkpoint(path)
        keys = list(torch.load(path, map_location="cpu", weights_only=False)["state_dict"])
        try:
            LitModel.load_from_checkpoint(path)  # the same module, not compiled
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
