"""Validation, test and prediction loops in PyTorch Lightning: validation_step, test_step and predict_step, run by the Trainer."""

import argparse

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities.exceptions import MisconfigurationException
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_data(seed: int, n: int = 600, features: int = 10, new: int = 40):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n + new, features, generator=generator)
    teacher = torch.randn(features, 2, generator=generator)
    y = (x @ teacher + 0.5 * torch.randn(n + new, 2, generator=generator)).argmax(dim=1)
    train, val = int(0.66 * n), int(0.83 * n)
    return (TensorDataset(x[:train], y[:train]), TensorDataset(x[train:val], y[train:val]),
            TensorDataset(x[val:n], y[val:n]), TensorDataset(x[n:]))


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 2))


class Classifier(pl.LightningModule):
    def __init__(self, lr: float = 1e-2):
        super().__init__()
        self.model = build_model()
        self.loss_fn = nn.CrossEntropyLoss()
        self.lr = lr

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self.model(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", self.loss_fn(self.model(x), y), prog_bar=True)

    def test_step(self, batch, batch_idx):
        x, y = batch
        logits = self.model(x)
        self.log("test_loss", self.loss_fn(logits, y))
        self.log("test_acc", (logits.argmax(dim=1) == y).float().mean())

    def predict_step(self, batch, batch_idx):
        (x,) = batch
        return self.model(x).softmax(dim=1)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def run(epochs: int = 5, seed: int = 0, device: str = "auto", batch_size: int = 32,
        lr: float = 1e-2, verbose: bool = False) -> dict:
    if epochs < 1:
        raise ValueError("--epochs must be at least 1")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    pl.seed_everything(seed)
    train_set, val_set, test_set, new_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader, test_loader, new_loader = (DataLoader(data, batch_size=batch_size,
                                                      generator=torch.Generator().manual_seed(seed))
                                           for data in (val_set, test_set, new_set))

    module = Classifier(lr=lr)
    trainer = pl.Trainer(max_epochs=epochs, accelerator=device, devices=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=verbose, enable_model_summary=verbose)
    trainer.fit(module, train_loader, val_loader)
    tested = trainer.test(module, test_loader, verbose=verbose)[0]
    predictions = torch.cat(trainer.predict(module, new_loader))
    if verbose:
        print(f"predict: {len(predictions)} rows, first {predictions[0].tolist()}")
    return {"model": module.model, "test_loss": tested["test_loss"], "test_acc": tested["test_acc"],
            "predictions": predictions}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    args = parser.parse_args(argv)
    try:
        run(args.epochs, args.seed, args.device, verbose=True)
    except (ValueError, MisconfigurationException) as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
