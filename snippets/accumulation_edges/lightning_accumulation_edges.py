"""Gradient accumulation at its edges in PyTorch Lightning: accumulate_grad_batches divides by N; to divide by anything else, manual optimization."""

import argparse

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities.exceptions import MisconfigurationException
from torch import nn
from torch.utils.data import DataLoader, SubsetRandomSampler, TensorDataset

DIVISORS = ("n", "samples", "none")


def make_data(seed: int, train_size: int, val_size: int = 64, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(train_size + val_size, features, generator=generator)
    y = (x @ torch.randn(features, 2, generator=generator)).argmax(dim=1)
    return TensorDataset(x[:train_size], y[:train_size]), TensorDataset(x[train_size:], y[train_size:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


def window_samples(samples: int, batch_size: int, accumulate: int) -> list:
    sizes = [min(batch_size, samples - start) for start in range(0, samples, batch_size)]
    return [sum(sizes[i - i % accumulate:i - i % accumulate + accumulate]) for i in range(len(sizes))]


def scaled(loss, size: int, window: int, accumulate: int, divide_by: str):
    if divide_by == "n":
        return loss / accumulate
    if divide_by == "samples":
        return loss * size / window
    return loss


class Classifier(pl.LightningModule):
    def __init__(self, accumulate: int, divide_by: str, windows: list, lr: float = 0.1):
        super().__init__()
        self.model = build_model()
        self.loss_fn = nn.CrossEntropyLoss()
        self.automatic_optimization = divide_by == "n"
        self.accumulate = accumulate
        self.divide_by = divide_by
        self.windows = windows
        self.lr = lr

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self.model(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True)
        if self.automatic_optimization:
            return loss
        optimizer = self.optimizers()
        self.manual_backward(scaled(loss, len(x), self.windows[batch_idx], self.accumulate, self.divide_by))
        if (batch_idx + 1) % self.accumulate == 0 or batch_idx + 1 == self.trainer.num_training_batches:
            optimizer.step()
            optimizer.zero_grad()

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", self.loss_fn(self.model(x), y), prog_bar=True)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9)


def run(epochs: int = 6, seed: int = 0, device: str = "auto", train_size: int = 40, batch_size: int = 16,
        accumulate: int = 4, divide_by: str = "n", lr: float = 0.1, verbose: bool = False) -> dict:
    if min(epochs, train_size, batch_size, accumulate) < 1:
        raise ValueError("--epochs, --train-size, --batch-size and --accumulate must be at least 1")
    if divide_by not in DIVISORS:
        raise ValueError(f"unknown --divide-by {divide_by!r}: use n, samples or none")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    pl.seed_everything(seed)
    train_set, val_set = make_data(seed, train_size)
    generator = torch.Generator().manual_seed(seed)
    sampler = SubsetRandomSampler(range(len(train_set)), generator=generator)
    train_loader = DataLoader(train_set, batch_size=batch_size, sampler=sampler, generator=generator)
    val_loader = DataLoader(val_set, batch_size=batch_size)

    module = Classifier(accumulate, divide_by, window_samples(len(train_set), batch_size, accumulate), lr)
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator=device,
        devices=1,
        accumulate_grad_batches=accumulate if module.automatic_optimization else 1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=verbose,
        enable_model_summary=verbose,
    )
    trainer.fit(module, train_loader, val_loader)
    return {"model": module.model}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--train-size", type=int, default=40, help="training samples")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--accumulate", type=int, default=4, help="micro-batches per optimizer step (N)")
    parser.add_argument("--divide-by", default="n",
                        help="n (accumulate_grad_batches), samples (/ the samples in its window) or none;"
                             " the last two with manual optimization")
    args = parser.parse_args(argv)
    try:
        run(args.epochs, args.seed, args.device, args.train_size, args.batch_size, args.accumulate, args.divide_by,
            verbose=True)
    except (ValueError, MisconfigurationException) as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
