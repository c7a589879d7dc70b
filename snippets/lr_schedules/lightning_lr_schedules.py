"""Learning-rate schedules in PyTorch Lightning: configure_optimizers says when the Trainer steps the scheduler."""

import argparse
import sys

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities.exceptions import MisconfigurationException
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

# region: not counted (the page's check of what LearningRateMonitor logs)
import csv
import shutil
import tempfile
from pathlib import Path

from pytorch_lightning.callbacks import LearningRateMonitor
from pytorch_lightning.loggers import CSVLogger
# endregion

SCHEDULES = ("step", "onecycle")


def make_data(seed: int, n: int = 512, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    teacher = torch.randn(features, 2, generator=generator)
    y = (x @ teacher).argmax(dim=1)
    split = int(0.8 * n)
    return TensorDataset(x[:split], y[:split]), TensorDataset(x[split:], y[split:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


class Classifier(pl.LightningModule):
    def __init__(self, schedule: str, lr: float, interval: str, verbose: bool = False):
        super().__init__()
        self.model = build_model()
        self.loss_fn = nn.CrossEntropyLoss()
        self.schedule = schedule
        self.lr = lr
        self.interval = interval
        self.verbose = verbose
        # region: not counted (collects what run() returns)
        self.history = {"train_loss": [], "val_loss": []}
        self.lr_trace = []
        # endregion

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self.model(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        # region: not counted (collects what run() returns)
        self.lr_trace.append(self.optimizers().param_groups[0]["lr"])
        # endregion
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", self.loss_fn(self.model(x), y))

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
        optimizer = torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9)
        if self.schedule == "step":
            scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
        else:
            scheduler = torch.optim.lr_scheduler.OneCycleLR(
                optimizer, max_lr=self.lr, total_steps=self.trainer.estimated_stepping_batches)
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "interval": self.interval, "name": "lr"}}


# region: not counted (the page's check of what LearningRateMonitor logs)
def read_logged(metrics_csv: Path, column: str) -> list:
    with open(metrics_csv, newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row.get(column)]
    return [float(row[column]) for row in sorted(rows, key=lambda row: int(row["step"]))]
# endregion


def run(epochs: int = 8, seed: int = 0, device: str = "auto", schedule: str = "onecycle",
        batch_size: int = 32, lr: float = 0.1, interval: str | None = None, lr_monitor: bool = False,
        verbose: bool = False) -> dict:
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}: use step or onecycle")
    pl.seed_everything(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)

    interval = interval or ("epoch" if schedule == "step" else "step")
    module = Classifier(schedule, lr, interval, verbose=verbose)
    logger_args = {"logger": False}
    # region: not counted (the page's check of what LearningRateMonitor logs)
    log_dir = tempfile.mkdtemp() if lr_monitor else None
    if lr_monitor:
        logger_args = {"logger": CSVLogger(log_dir, name="lr_schedules", version=0), "log_every_n_steps": 1,
                       "callbacks": [LearningRateMonitor(logging_interval="step")]}
    # endregion
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator=device,
        devices=1,
        enable_checkpointing=False,
        enable_progress_bar=verbose,
        enable_model_summary=verbose,
        **logger_args,
    )
    trainer.fit(module, train_loader, val_loader)

    # region: not counted (collects what run() returns)
    state = {k: v.detach().cpu() for k, v in module.model.state_dict().items()}
    result = {"history": module.history, "state_dict": state, "steps": trainer.global_step,
              "device": str(module.device), "lr_trace": module.lr_trace, "schedule": schedule}
    if lr_monitor:
        result["monitored_lr"] = read_logged(Path(log_dir) / "lr_schedules" / "version_0" / "metrics.csv", "lr")
        shutil.rmtree(log_dir)
    return result
    # endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--schedule", default="onecycle", choices=SCHEDULES,
                        help="step (StepLR, per epoch) or onecycle (OneCycleLR, per step)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.1)
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return stop.code
    if args.device not in ("auto", "cpu", "cuda"):
        print(f"error: unknown device {args.device!r}: use auto, cpu or cuda", file=sys.stderr)
        return 2
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
        print("error: --epochs and --batch-size must be at least 1 and --lr positive", file=sys.stderr)
        return 2
    try:
        result = run(args.epochs, args.seed, args.device, args.schedule, args.batch_size, args.lr, verbose=True)
    except (ValueError, MisconfigurationException) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: {result['steps']} optimizer steps on {result['device']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion
