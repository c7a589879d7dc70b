"""Gradient accumulation at its edges in PyTorch Lightning: accumulate_grad_batches, or manual optimization where you divide the loss yourself."""

# region: not counted (the command line)
import argparse
import sys

from pytorch_lightning.utilities.exceptions import MisconfigurationException
# endregion

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, SubsetRandomSampler, TensorDataset

DIVISORS = ("n", "samples", "none")


def make_data(seed: int, train_size: int, val_size: int = 64, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(train_size + val_size, features, generator=generator)
    teacher = torch.randn(features, 2, generator=generator)
    y = (x @ teacher).argmax(dim=1)
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
    def __init__(self, lr: float, manual: bool, accumulate: int, divide_by: str, windows: list, verbose: bool = False):
        super().__init__()
        self.model = build_model()
        self.loss_fn = nn.CrossEntropyLoss()
        self.lr = lr
        self.automatic_optimization = not manual
        self.accumulate = accumulate
        self.divide_by = divide_by
        self.windows = windows
        self.verbose = verbose
        # region: not counted (collects what run() returns)
        self.history = {"train_loss": [], "val_loss": []}
        self.stepped, self.window = [], []
        # endregion

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self.model(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        if self.automatic_optimization:
            return loss
        optimizer = self.optimizers()
        self.manual_backward(scaled(loss, len(x), self.windows[batch_idx], self.accumulate, self.divide_by))
        if (batch_idx + 1) % self.accumulate == 0 or batch_idx + 1 == self.trainer.num_training_batches:
            optimizer.step()
            optimizer.zero_grad()

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", self.loss_fn(self.model(x), y))

    # region: not counted (collects what run() returns)
    def on_train_batch_start(self, batch, batch_idx):
        self.window.append(len(batch[0]))

    def on_before_optimizer_step(self, optimizer):
        self.stepped.append(self.window)
        self.window = []
    # endregion

    def on_train_epoch_end(self):
        metrics = self.trainer.callback_metrics
        # region: not counted (collects what run() returns)
        self.history["train_loss"].append(metrics["train_loss"].item())
        self.history["val_loss"].append(metrics["val_loss"].item())
        # endregion
        if self.verbose:
            self.print(f"epoch {self.current_epoch + 1}/{self.trainer.max_epochs}"
                       f"  train_loss {metrics['train_loss']:.4f}  val_loss {metrics['val_loss']:.4f}")

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9)


def run(epochs: int = 6, seed: int = 0, device: str = "auto", train_size: int = 40, batch_size: int = 16,
        accumulate: int = 4, divide_by: str = "n", lr: float = 0.1, manual: bool = False,
        verbose: bool = False) -> dict:
    if divide_by not in DIVISORS:
        raise ValueError(f"unknown --divide-by {divide_by!r}: use n, samples or none")
    if divide_by != "n" and not manual:
        raise ValueError("accumulate_grad_batches always divides the loss by N: --divide-by samples or none needs"
                         " --manual")
    pl.seed_everything(seed)
    train_set, val_set = make_data(seed, train_size)
    generator = torch.Generator().manual_seed(seed)
    sampler = SubsetRandomSampler(range(len(train_set)), generator=generator)
    train_loader = DataLoader(train_set, batch_size=batch_size, sampler=sampler, generator=generator)
    val_loader = DataLoader(val_set, batch_size=batch_size)
    windows = window_samples(len(train_set), batch_size, accumulate)

    module = Classifier(lr, manual, accumulate, divide_by, windows, verbose=verbose)
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator=device,
        devices=1,
        accumulate_grad_batches=1 if manual else accumulate,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=verbose,
        enable_model_summary=verbose,
    )
    trainer.fit(module, train_loader, val_loader)

    # region: not counted (collects what run() returns)
    state = {k: v.detach().cpu() for k, v in module.model.state_dict().items()}
    return {"history": module.history, "state_dict": state, "steps": trainer.global_step,
            "device": str(module.device), "batches_per_epoch": len(train_loader), "windows": module.stepped}
    # endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--train-size", type=int, default=40, help="training samples")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--accumulate", type=int, default=4, help="micro-batches per optimizer step (N)")
    parser.add_argument("--divide-by", default="n",
                        help="n (each micro-batch loss / N), samples (/ the samples in its window) or none")
    parser.add_argument("--manual", action="store_true", help="manual optimization instead of accumulate_grad_batches")
    parser.add_argument("--lr", type=float, default=0.1)
    args = parser.parse_args(argv)
    try:
        if min(args.epochs, args.train_size, args.batch_size, args.accumulate) < 1 or args.lr <= 0:
            raise ValueError("--epochs, --train-size, --batch-size and --accumulate must be at least 1, --lr positive")
        if args.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"unknown device {args.device!r}: use auto, cpu or cuda")
        result = run(args.epochs, args.seed, args.device, args.train_size, args.batch_size, args.accumulate,
                     args.divide_by, args.lr, args.manual, verbose=True)
    except (ValueError, MisconfigurationException) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: {result['steps']} optimizer steps from {result['batches_per_epoch']} batches per epoch"
          f" on {result['device']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion
