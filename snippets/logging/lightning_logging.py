"""Logging in PyTorch Lightning: self.log into a CSVLogger and a TensorBoardLogger at once."""

import argparse
import sys

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger
from pytorch_lightning.utilities.exceptions import MisconfigurationException
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
try:
    import tensorboard
except ImportError:
    sys.exit("error: this program needs TensorBoard: pip install tensorboard")


def make_data(seed: int, n: int = 500, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    y = (x @ torch.randn(features, 2, generator=generator)).argmax(dim=1)
    split = int(0.8 * n)
    return TensorDataset(x[:split], y[:split]), TensorDataset(x[split:], y[split:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


class Classifier(pl.LightningModule):
    def __init__(self, lr: float = 1e-2):
        super().__init__()
        self.model = build_model()
        self.loss_fn = nn.CrossEntropyLoss()
        self.lr = lr

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self.model(x), y)
        self.log("train_loss", loss, on_step=True, on_epoch=True, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", self.loss_fn(self.model(x), y), prog_bar=True)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def run(epochs: int = 4, seed: int = 0, device: str = "auto", batch_size: int = 64,
        lr: float = 1e-2, log_dir: str = "lightning_logs", verbose: bool = False) -> dict:
    if epochs < 1:
        raise ValueError("--epochs must be at least 1")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    pl.seed_everything(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)

    loggers = [CSVLogger(save_dir=log_dir, name="csv"), TensorBoardLogger(save_dir=log_dir, name="tensorboard")]
    module = Classifier(lr=lr)
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator=device,
        devices=1,
        logger=loggers,
        log_every_n_steps=1,
        enable_checkpointing=False,
        enable_progress_bar=verbose,
        enable_model_summary=verbose,
    )
    trainer.fit(module, train_loader, val_loader)
    if verbose:
        print(f"wrote {loggers[0].log_dir}/metrics.csv and {loggers[1].log_dir}")
    return {"model": module.model}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--log-dir", default="lightning_logs")
    args = parser.parse_args(argv)
    try:
        run(args.epochs, args.seed, args.device, log_dir=args.log_dir, verbose=True)
    except (ValueError, MisconfigurationException) as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
