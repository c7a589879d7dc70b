"""training_step runs in eval mode after my own code switched the module to eval.

Lightning issue #20216: the Trainer does not switch the module to training mode before
training_step, so a module the user put in eval mode (here: a quick look at predictions in
on_train_start, without switching back) trains in eval mode: dropout off, batch norm frozen.
Three epochs with a validation at the end of each.
"""

import tempfile

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class Net(pl.LightningModule):
    def __init__(self, probe: torch.Tensor):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.5), nn.Linear(16, 1))
        self.probe = probe
        self.modes = []  # per epoch: whether each training_step ran in training mode

    def on_train_start(self):
        self.eval()  # look at the untrained predictions...
        with torch.no_grad():
            self.baseline = self(self.probe)
        # ...and forget to call self.train()

    def forward(self, x):
        return self.net(x)

    def on_train_epoch_start(self):
        self.modes.append([])

    def training_step(self, batch, batch_idx):
        self.modes[-1].append(self.training)
        x, y = batch
        return nn.functional.mse_loss(self(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", nn.functional.mse_loss(self(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def run() -> dict:
    pl.seed_everything(0)
    x = torch.randn(48, 4)
    y = x.sum(dim=1, keepdim=True)
    train = DataLoader(TensorDataset(x[:32], y[:32]), batch_size=8)
    val = DataLoader(TensorDataset(x[32:], y[32:]), batch_size=8)
    model = Net(probe=x[:2])
    with tempfile.TemporaryDirectory() as root:
        trainer = pl.Trainer(max_epochs=3, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False, default_root_dir=root)
        trainer.fit(model, train, val)
    eval_steps = [sum(not mode for mode in epoch) for epoch in model.modes]
    return {
        "steps_per_epoch": [len(epoch) for epoch in model.modes],
        "eval_mode_steps_per_epoch": eval_steps,
        "eval_mode_steps_last_epoch": eval_steps[-1],
        "eval_mode_steps_total": sum(eval_steps),
        "dropout_training_after_fit": model.net[1].training,
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")
