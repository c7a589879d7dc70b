"""Workaround from Lightning #17958's thread: step every optimizer but the last without Lightning's
step-counting hooks, so that global_step (and max_steps) count training steps.

The hooks are private attributes of LightningOptimizer (_on_before_step, _on_after_step) that the
manual-optimization loop sets before every training_step; the workaround replaces them for the
first optimizer, keeping only the profiler calls.
"""

import tempfile

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

MAX_STEPS = 8


class TwoOptimizers(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.automatic_optimization = False
        self.generator = nn.Linear(4, 4)
        self.discriminator = nn.Linear(4, 1)
        self.training_step_calls = 0

    def training_step(self, batch, batch_idx):
        (x,) = batch
        opt_g, opt_d = self.optimizers()
        d_loss = self.discriminator(self.generator(x).detach()).mean() - self.discriminator(x).mean()
        opt_d.zero_grad()
        self.manual_backward(d_loss)
        opt_d._on_before_step = lambda: self.trainer.profiler.start("optimizer_step")
        opt_d._on_after_step = lambda: self.trainer.profiler.stop("optimizer_step")
        opt_d.step()
        g_loss = -self.discriminator(self.generator(x)).mean()
        opt_g.zero_grad()
        self.manual_backward(g_loss)
        opt_g.step()
        self.training_step_calls += 1

    def configure_optimizers(self):
        return (torch.optim.SGD(self.generator.parameters(), lr=0.01),
                torch.optim.SGD(self.discriminator.parameters(), lr=0.01))


def run() -> dict:
    torch.manual_seed(0)
    loader = DataLoader(TensorDataset(torch.randn(32, 4)), batch_size=4)
    model = TwoOptimizers()
    with tempfile.TemporaryDirectory() as root:
        trainer = pl.Trainer(
            max_steps=MAX_STEPS, default_root_dir=root, logger=False, enable_checkpointing=False,
            enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
        )
        trainer.fit(model, loader)
    return {
        "max_steps": MAX_STEPS,
        "batches_per_epoch": len(loader),
        "training_step_calls": model.training_step_calls,
        "global_step": trainer.global_step,
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")
