"""Debugging switches in PyTorch Lightning: fast_dev_run, overfit_batches, limit_*_batches and detect_anomaly."""

import argparse

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
    def __init__(self, inject_nan_at_step: int = 0):
        super().__init__()
        self.model = build_model()
        self.loss_fn = nn.CrossEntropyLoss()
        self.inject_nan_at_step = inject_nan_at_step

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self.model(x), y)
        if self.global_step + 1 == self.inject_nan_at_step:
            loss = torch.sqrt(-loss)
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", self.loss_fn(self.model(x), y), prog_bar=True)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)


def run(epochs: int = 5, seed: int = 0, device: str = "auto", fast_dev_run: bool = False,
        overfit_batches: int = 0, limit_train_batches: int | None = None, limit_val_batches: int | None = None,
        detect_anomaly: bool = False, inject_nan_at_step: int = 0, verbose: bool = False) -> dict:
    if epochs < 1:
        raise ValueError("--epochs must be at least 1")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    pl.seed_everything(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=32, shuffle=not overfit_batches,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=32)

    module = Classifier(inject_nan_at_step)
    trainer = pl.Trainer(max_epochs=epochs, accelerator=device, devices=1, fast_dev_run=fast_dev_run,
                         overfit_batches=overfit_batches, limit_train_batches=limit_train_batches,
                         limit_val_batches=limit_val_batches, detect_anomaly=detect_anomaly, logger=False,
                         enable_checkpointing=False, enable_progress_bar=verbose, enable_model_summary=verbose)
    anomaly = None
    try:
        trainer.fit(module, train_loader, val_loader)
    except RuntimeError as error:
        if not detect_anomaly:
            raise
        anomaly = str(error)
        if verbose:
            print(f"stopped at step {trainer.global_step + 1} by anomaly detection: {anomaly}")
    return {"model": module.model, "anomaly": anomaly}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--fast-dev-run", action="store_true", help="one training and one validation batch")
    parser.add_argument("--overfit-batches", type=int, default=0, help="the first N batches of each loader")
    parser.add_argument("--limit-train-batches", type=int, help="at most N training batches an epoch")
    parser.add_argument("--limit-val-batches", type=int, help="at most N validation batches an epoch")
    parser.add_argument("--detect-anomaly", action="store_true", help="stop at the first NaN in a backward pass")
    parser.add_argument("--inject-nan-at-step", type=int, default=0, help="make the loss of step N NaN")
    args = parser.parse_args(argv)
    try:
        run(args.epochs, args.seed, args.device, args.fast_dev_run, args.overfit_batches, args.limit_train_batches,
            args.limit_val_batches, args.detect_anomaly, args.inject_nan_at_step, verbose=True)
    except (ValueError, MisconfigurationException) as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
