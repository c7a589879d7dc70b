"""Real data in PyTorch Lightning: scikit-learn's bundled digits in a LightningDataModule, trained and tested by a Trainer."""

import argparse
import sys
from importlib import resources

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities.exceptions import MisconfigurationException
try:
    from sklearn.datasets import load_digits
except ImportError:
    sys.exit("error: this program needs scikit-learn (for its bundled digits data): pip install scikit-learn")
from torch import nn
from torch.utils.data import DataLoader, Dataset


class DigitsDataset(Dataset):
    def __init__(self, features: torch.Tensor, targets: torch.Tensor):
        self.features = features
        self.targets = targets

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        return self.features[index], self.targets[index]


class DigitsDataModule(pl.LightningDataModule):
    def __init__(self, batch_size: int = 64, seed: int = 0):
        super().__init__()
        self.batch_size = batch_size
        self.seed = seed
        self.datasets = None

    def prepare_data(self):
        if not (resources.files("sklearn.datasets.data") / "digits.csv.gz").is_file():
            raise FileNotFoundError("scikit-learn's bundled digits data (digits.csv.gz) is missing")

    def setup(self, stage: str):
        if self.datasets is not None:
            return
        digits = load_digits()
        x = torch.tensor(digits.data, dtype=torch.float32)
        y = torch.tensor(digits.target, dtype=torch.long)
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(self.seed))
        held_out = len(x) // 5
        test, val, train = order[:held_out], order[held_out:2 * held_out], order[2 * held_out:]
        mean, std = x[train].mean(dim=0), x[train].std(dim=0)
        std = torch.where(std > 0, std, torch.ones_like(std))
        self.datasets = {name: DigitsDataset((x[rows] - mean) / std, y[rows])
                         for name, rows in (("train", train), ("val", val), ("test", test))}

    def train_dataloader(self):
        return DataLoader(self.datasets["train"], batch_size=self.batch_size, shuffle=True,
                          generator=torch.Generator().manual_seed(self.seed))

    def val_dataloader(self):
        return DataLoader(self.datasets["val"], batch_size=self.batch_size)

    def test_dataloader(self):
        return DataLoader(self.datasets["test"], batch_size=self.batch_size)


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


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

    def evaluate(self, batch, stage: str):
        x, y = batch
        logits = self.model(x)
        self.log(f"{stage}_loss", self.loss_fn(logits, y), prog_bar=True)
        self.log(f"{stage}_acc", (logits.argmax(dim=1) == y).float().mean(), prog_bar=True)

    def validation_step(self, batch, batch_idx):
        self.evaluate(batch, "val")

    def test_step(self, batch, batch_idx):
        self.evaluate(batch, "test")

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def run(epochs: int = 8, seed: int = 0, device: str = "auto", batch_size: int = 64,
        lr: float = 1e-2, verbose: bool = False) -> dict:
    if epochs < 1:
        raise ValueError("--epochs must be at least 1")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    pl.seed_everything(seed)
    datamodule = DigitsDataModule(batch_size=batch_size, seed=seed)
    module = Classifier(lr=lr)
    trainer = pl.Trainer(max_epochs=epochs, accelerator=device, devices=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=verbose, enable_model_summary=verbose)
    trainer.fit(module, datamodule=datamodule)
    tested = trainer.test(module, datamodule=datamodule, verbose=verbose)[0]
    return {"model": module.model, "test_loss": tested["test_loss"], "test_acc": tested["test_acc"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=8)
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
