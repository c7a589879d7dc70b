"""At the end of an epoch, a partial gradient-accumulation window is still divided by
accumulate_grad_batches (Lightning #19987).

6 batches per epoch with accumulate_grad_batches=4: the optimizer steps after batches 4 and 6.
Before each step the replay compares the accumulated gradient with the gradient of the mean loss
over the window's own batches. A full window matches it; the last window holds 2 batches but its
gradient is divided by 4, so it is half the mean gradient (the batches' sum / 4).
"""

import tempfile

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

ACCUMULATE = 4


class Model(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(4, 1)
        self.window = []
        self.window_sizes = []
        self.grad_ratios = []

    def loss(self, batch):
        x, y = batch
        return nn.functional.mse_loss(self.layer(x), y)

    def training_step(self, batch, batch_idx):
        self.window.append(batch)
        return self.loss(batch)

    def on_before_optimizer_step(self, optimizer):
        params = list(self.layer.parameters())
        with torch.enable_grad():
            window_mean = torch.stack([self.loss(batch) for batch in self.window]).mean()
            mean_grad = torch.cat([g.flatten() for g in torch.autograd.grad(window_mean, params)])
        applied = torch.cat([p.grad.flatten() for p in params])
        self.window_sizes.append(len(self.window))
        self.grad_ratios.append((applied.norm() / mean_grad.norm()).item())
        self.window = []

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def run() -> dict:
    torch.manual_seed(0)
    x = torch.randn(24, 4)
    model = Model()
    with tempfile.TemporaryDirectory() as root:
        trainer = pl.Trainer(
            max_epochs=1, accumulate_grad_batches=ACCUMULATE, default_root_dir=root, logger=False,
            enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
        )
        trainer.fit(model, DataLoader(TensorDataset(x, x.sum(dim=1, keepdim=True)), batch_size=4))
    return {
        "accumulate_grad_batches": ACCUMULATE,
        "window_sizes": model.window_sizes,
        "grad_over_window_mean_grad": model.grad_ratios,
        "last_window_fraction": model.window_sizes[-1] / ACCUMULATE,
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")
