"""A warm-up schedule in PyTorch Lightning: configure_optimizers returns it, and its "interval" says when the Trainer steps it."""

import argparse

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities.exceptions import MisconfigurationException
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

INTERVALS = ("step", "epoch")


def make_data(seed: int, n: int = 512, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    y = (x @ torch.randn(features, 2, generator=generator)).argmax(dim=1)
    split = int(0.8 * n)
    return TensorDataset(x[:split], y[:split]), TensorDataset(x[split:], y[split:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


def warmup_then_decay(warmup: int, total: int):
    return lambda step: min((step + 1) / warmup, max(0.0, (total - step) / max(1, total - warmup)))


class Classifier(pl.LightningModule):
    def __init__(self, interval: str = "step", warmup: int = 20, lr: float = 0.1):
        super().__init__()
        self.model = build_model()
        self.loss_fn = nn.CrossEntropyLoss()
        self.interval = interval
        self.warmup = warmup
        self.lr = lr

    def on_train_epoch_start(self):
        self.log("lr", self.lr_schedulers().get_last_lr()[0], prog_bar=True)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self.model(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", self.loss_fn(self.model(x), y), prog_bar=True)

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9)
        schedule = warmup_then_decay(self.warmup, self.trainer.estimated_stepping_batches)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        if self.interval == "step":
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
        return {"optimizer": optimizer, "lr_scheduler": scheduler}


def run(epochs: int = 4, seed: int = 0, device: str = "auto", interval: str = "step", warmup: int = 20,
        batch_size: int = 32, lr: float = 0.1, verbose: bool = False) -> dict:
    if epochs < 1 or warmup < 1:
        raise ValueError("--epochs and the warm-up must be at least 1")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    if interval not in INTERVALS:
        raise ValueError(f"unknown interval {interval!r}: use step or epoch")
    pl.seed_everything(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)

    module = Classifier(interval, warmup, lr)
    trainer = pl.Trainer(max_epochs=epochs, accelerator=device, devices=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=verbose, enable_model_summary=verbose)
    trainer.fit(module, train_loader, val_loader)
    return {"model": module.model}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--interval", default="step",
                        help='step ("interval": "step") or epoch (the scheduler returned without an interval)')
    args = parser.parse_args(argv)
    try:
        run(args.epochs, args.seed, args.device, args.interval, verbose=True)
    except (ValueError, MisconfigurationException) as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
