"""Hyperparameters in PyTorch Lightning: save_hyperparameters() in the checkpoint, load_from_checkpoint() to rebuild."""

import argparse
from pathlib import Path

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


def build_model(hidden: int = 16) -> nn.Module:
    return nn.Sequential(nn.Linear(10, hidden), nn.ReLU(), nn.Linear(hidden, 2))


class Classifier(pl.LightningModule):
    def __init__(self, hidden: int = 16, lr: float = 1e-3):
        super().__init__()
        self.save_hyperparameters()
        self.model = build_model(self.hparams.hidden)
        self.loss_fn = nn.CrossEntropyLoss()

    def forward(self, x):
        return self.model(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self.model(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", self.loss_fn(self.model(x), y), prog_bar=True)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def run(epochs: int = 5, seed: int = 0, device: str = "auto", hidden: int = 16, lr: float = 1e-3,
        ckpt_dir: str = ".", verbose: bool = False) -> dict:
    if epochs < 1:
        raise ValueError("--epochs must be at least 1")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    pl.seed_everything(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=32, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=32)

    module = Classifier(hidden=hidden, lr=lr)
    trainer = pl.Trainer(max_epochs=epochs, accelerator=device, devices=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=verbose, enable_model_summary=verbose)
    trainer.fit(module, train_loader, val_loader)

    path = Path(ckpt_dir) / "lightning_model.ckpt"
    trainer.save_checkpoint(path, weights_only=False)
    restored = Classifier.load_from_checkpoint(path)
    reloaded = trainer.validate(restored, val_loader, verbose=verbose)[0]
    return {"model": restored, "hparams": dict(restored.hparams), "reloaded_val_loss": reloaded["val_loss"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--hidden", type=int, default=16, help="width of the hidden layer")
    parser.add_argument("--ckpt-dir", default=".", help="folder for the checkpoint")
    args = parser.parse_args(argv)
    try:
        run(args.epochs, args.seed, args.device, args.hidden, ckpt_dir=args.ckpt_dir, verbose=True)
    except (ValueError, MisconfigurationException, OSError) as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
