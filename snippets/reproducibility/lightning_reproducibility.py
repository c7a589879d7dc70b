"""Reproducible training in PyTorch Lightning: seed_everything(workers=True) and Trainer(deterministic=True)."""

import argparse
import sys

try:
    import numpy as np
except ImportError:
    sys.exit("error: this program needs NumPy: pip install numpy")

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities.exceptions import MisconfigurationException
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset


class AugmentedDataset(Dataset):
    def __init__(self, x: torch.Tensor, y: torch.Tensor, rng=None):
        self.x, self.y, self.rng = x, y, rng

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index):
        scale = (self.rng or np.random).uniform(0.8, 1.2)
        noise = 0.1 * torch.randn(self.x.shape[1])
        return self.x[index] * scale + noise, self.y[index], torch.tensor(scale)


def make_data(seed: int, n: int = 512, features: int = 10, shared_generator: bool = False):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    y = (x @ torch.randn(features, 2, generator=generator)).argmax(dim=1)
    split = int(0.8 * n)
    rng = np.random.default_rng(seed) if shared_generator else None
    return AugmentedDataset(x[:split], y[:split], rng), TensorDataset(x[split:], y[split:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


class Classifier(pl.LightningModule):
    def __init__(self, lr: float = 1e-3):
        super().__init__()
        self.model = build_model()
        self.loss_fn = nn.CrossEntropyLoss()
        self.lr = lr
        self.scales = []

    def training_step(self, batch, batch_idx):
        x, y, scale = batch
        loss = self.loss_fn(self.model(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True)
        self.scales.append(scale)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", self.loss_fn(self.model(x), y), prog_bar=True)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def run(epochs: int = 3, seed: int = 0, device: str = "auto", batch_size: int = 32, num_workers: int = 2,
        seed_workers: bool = True, shared_generator: bool = False, verbose: bool = False) -> dict:
    if epochs < 1 or num_workers < 0:
        raise ValueError("--epochs must be at least 1 and --num-workers at least 0")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    pl.seed_everything(seed, workers=seed_workers)
    train_set, val_set = make_data(seed, shared_generator=shared_generator)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True, num_workers=num_workers,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)

    module = Classifier()
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator=device,
        devices=1,
        deterministic=True,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=verbose,
        enable_model_summary=verbose,
    )
    trainer.fit(module, train_loader, val_loader)
    return {"model": module.model, "scales": module.scales}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--no-worker-seeding", action="store_true")
    parser.add_argument("--shared-generator", action="store_true",
                        help="augment with one NumPy Generator created with the dataset")
    args = parser.parse_args(argv)
    try:
        run(args.epochs, args.seed, args.device, seed_workers=not args.no_worker_seeding,
            shared_generator=args.shared_generator, verbose=True)
    except (ValueError, MisconfigurationException) as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
