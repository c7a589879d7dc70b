"""torch.compile in PyTorch Lightning: the inner network compiled in configure_model, each step timed."""

import argparse
import statistics
import time

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities.exceptions import MisconfigurationException
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_data(seed: int, n: int = 512, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    y = (x @ torch.randn(features, 2, generator=generator)).argmax(dim=1)
    split = int(0.8 * n)
    return TensorDataset(x[:split], y[:split]), TensorDataset(x[split:], y[split:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


class Classifier(pl.LightningModule):
    def __init__(self, lr: float = 1e-3, compile: bool = True):
        super().__init__()
        self.model = build_model()
        self.loss_fn = nn.CrossEntropyLoss()
        self.lr = lr
        self.compile = compile

    def configure_model(self):
        if self.compile:
            self.model = torch.compile(self.model)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self.model(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", self.loss_fn(self.model(x), y), prog_bar=True)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


class StepTimer(pl.Callback):
    def __init__(self):
        self.step_s, self.start = [], 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize()
        self.step_s.append(time.perf_counter() - self.start)


def run(epochs: int = 5, seed: int = 0, device: str = "auto", compile: bool = True, batch_size: int = 32,
        lr: float = 1e-3, verbose: bool = False) -> dict:
    if epochs < 1:
        raise ValueError("--epochs must be at least 1")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    torch.compiler.reset()
    pl.seed_everything(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)

    module = Classifier(lr=lr, compile=compile)
    timer = StepTimer()
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator=device,
        devices=1,
        callbacks=[timer],
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=verbose,
        enable_model_summary=verbose,
    )
    trainer.fit(module, train_loader, val_loader)
    first, median = timer.step_s[0], statistics.median(timer.step_s[1:] or timer.step_s)
    if verbose:
        print(f"{'compiled' if compile else 'eager'}: first step {1000 * first:.1f} ms,"
              f" median step {1000 * median:.3f} ms")
    return {"model": module.model, "first_step_s": first, "median_step_s": median}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--no-compile", action="store_true", help="train the eager model")
    args = parser.parse_args(argv)
    try:
        run(args.epochs, args.seed, args.device, compile=not args.no_compile, verbose=True)
    except (ValueError, MisconfigurationException) as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
