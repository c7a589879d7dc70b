"""Logging in PyTorch Lightning: self.log with a CSVLogger and a TensorBoardLogger, then both read back from disk."""

# region: not counted (the command line, and reading the files back for the page)
import argparse
import csv
import sys

from pytorch_lightning.utilities.exceptions import MisconfigurationException

try:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
except ImportError:
    sys.exit("error: this program needs TensorBoard: pip install tensorboard")
# endregion

from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_data(seed: int, n: int = 500, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    teacher = torch.randn(features, 2, generator=generator)
    y = (x @ teacher).argmax(dim=1)
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


# region: not counted (reads the files back, records the batch sizes and prints the epoch values, for the page)
METRICS = ("train_loss_step", "train_loss_epoch", "val_loss")


def read_csv(path: Path) -> tuple[dict, list]:
    series = {name: {"step": [], "value": []} for name in METRICS}
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        for row in reader:
            for name in METRICS:
                if row.get(name):
                    series[name]["step"].append(int(row["step"]))
                    series[name]["value"].append(float(row[name]))
    return series, reader.fieldnames


def read_tensorboard(folder: Path) -> tuple[dict, list]:
    accumulator = EventAccumulator(str(folder))
    accumulator.Reload()
    series = {name: {"step": [e.step for e in accumulator.Scalars(name)],
                     "value": [e.value for e in accumulator.Scalars(name)]} for name in METRICS}
    return series, sorted(accumulator.Tags()["scalars"])


def list_files(root: Path, folders: list) -> list:
    return [{"name": path.relative_to(root).as_posix(), "bytes": path.stat().st_size}
            for folder in folders for path in sorted(folder.rglob("*")) if path.is_file()]


class Recorder(pl.Callback):
    def __init__(self, verbose: bool):
        self.verbose = verbose
        self.batch_sizes = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.batch_sizes.append(len(batch[0]))

    def on_train_epoch_end(self, trainer, pl_module):
        if self.verbose:
            metrics = trainer.callback_metrics
            pl_module.print(f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}"
                            f"  train_loss {metrics['train_loss_epoch']:.4f}  val_loss {metrics['val_loss']:.4f}")
# endregion


def run(epochs: int = 4, seed: int = 0, device: str = "auto", batch_size: int = 64,
        lr: float = 1e-2, log_dir: str = "lightning_logs", verbose: bool = False) -> dict:
    pl.seed_everything(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)

    root = Path(log_dir)
    csv_logger = CSVLogger(save_dir=root, name="csv")
    tb_logger = TensorBoardLogger(save_dir=root, name="tensorboard")
    module = Classifier(lr=lr)
    # region: not counted (collects what run() returns)
    recorder = Recorder(verbose)
    # endregion
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator=device,
        devices=1,
        logger=[csv_logger, tb_logger],
        log_every_n_steps=1,
        enable_checkpointing=False,
        enable_progress_bar=verbose,
        enable_model_summary=verbose,
        # region: not counted (collects what run() returns)
        callbacks=[recorder],
        # endregion
    )
    trainer.fit(module, train_loader, val_loader)

    # region: not counted (reads the files back, for the page)
    logged_csv, columns = read_csv(Path(csv_logger.log_dir) / "metrics.csv")
    logged_tb, tags = read_tensorboard(Path(tb_logger.log_dir))
    files = list_files(root, [Path(csv_logger.log_dir), Path(tb_logger.log_dir)])
    if verbose:
        for entry in files:
            print(f"wrote {entry['name']} ({entry['bytes']} bytes)")
    state = {k: v.detach().cpu() for k, v in module.model.state_dict().items()}
    return {"history": {"train_loss": logged_csv["train_loss_epoch"]["value"],
                        "val_loss": logged_csv["val_loss"]["value"]},
            "state_dict": state, "steps": trainer.global_step, "device": str(module.device),
            "batch_sizes": recorder.batch_sizes, "csv": logged_csv, "tensorboard": logged_tb,
            "tensorboard_tags": tags, "csv_columns": columns, "files": files}
    # endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--log-dir", default="lightning_logs")
    args = parser.parse_args(argv)
    try:
        if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
            raise ValueError("--epochs and --batch-size must be at least 1 and --lr positive")
        if args.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"unknown device {args.device!r}: use auto, cpu or cuda")
        result = run(args.epochs, args.seed, args.device, args.batch_size, args.lr, args.log_dir, verbose=True)
    except (ValueError, MisconfigurationException) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: {result['steps']} optimizer steps on {result['device']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion
