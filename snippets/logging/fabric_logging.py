"""Logging with Lightning Fabric: fabric.log and log_dict into Fabric's CSV and TensorBoard loggers, then both read back from disk."""

# region: not counted (the command line, and reading the files back for the page)
import argparse
import csv
import sys

try:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
except ImportError:
    sys.exit("error: this program needs TensorBoard: pip install tensorboard")
# endregion

from pathlib import Path

import torch
from lightning_fabric import Fabric, seed_everything
from lightning_fabric.loggers import CSVLogger, TensorBoardLogger
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


# region: not counted (reads the files back, for the page)
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
# endregion


def run(epochs: int = 4, seed: int = 0, device: str = "auto", batch_size: int = 64,
        lr: float = 1e-2, log_dir: str = "fabric_logs", verbose: bool = False) -> dict:
    root = Path(log_dir)
    csv_logger = CSVLogger(root_dir=root, name="csv")
    tb_logger = TensorBoardLogger(root_dir=root, name="tensorboard")
    fabric = Fabric(accelerator=device, devices=1, loggers=[csv_logger, tb_logger])
    seed_everything(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)

    model = build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model, optimizer = fabric.setup(model, optimizer)
    train_loader, val_loader = fabric.setup_dataloaders(train_loader, val_loader)
    loss_fn = nn.CrossEntropyLoss()
    # region: not counted (collects what run() returns)
    batch_sizes = []
    # endregion

    steps = 0
    for epoch in range(epochs):
        model.train()
        total, count = 0.0, 0
        for x, y in train_loader:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            fabric.backward(loss)
            optimizer.step()
            value = loss.item()
            fabric.log("train_loss_step", value, step=steps)
            total += value * len(x)
            count += len(x)
            steps += 1
            # region: not counted (collects what run() returns)
            batch_sizes.append(len(x))
            # endregion

        model.eval()
        val_total, val_count = 0.0, 0
        with torch.no_grad():
            for x, y in val_loader:
                val_total += loss_fn(model(x), y) * len(x)
                val_count += len(x)
        val_loss = val_total.item() / val_count
        fabric.log_dict({"val_loss": val_loss, "train_loss_epoch": total / count}, step=steps - 1)
        if verbose:
            fabric.print(f"epoch {epoch + 1}/{epochs}  train_loss {total / count:.4f}  val_loss {val_loss:.4f}")

    for logger in fabric.loggers:
        logger.finalize("success")

    # region: not counted (reads the files back, for the page)
    logged_csv, columns = read_csv(Path(csv_logger.log_dir) / "metrics.csv")
    logged_tb, tags = read_tensorboard(Path(tb_logger.log_dir))
    files = list_files(root, [Path(csv_logger.log_dir), Path(tb_logger.log_dir)])
    if verbose:
        for entry in files:
            fabric.print(f"wrote {entry['name']} ({entry['bytes']} bytes)")
    state = {k: v.detach().cpu() for k, v in model.module.state_dict().items()}
    return {"history": {"train_loss": logged_csv["train_loss_epoch"]["value"],
                        "val_loss": logged_csv["val_loss"]["value"]},
            "state_dict": state, "steps": steps, "device": str(fabric.device), "batch_sizes": batch_sizes,
            "csv": logged_csv, "tensorboard": logged_tb, "tensorboard_tags": tags,
            "csv_columns": columns, "files": files}
    # endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--log-dir", default="fabric_logs")
    args = parser.parse_args(argv)
    try:
        if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
            raise ValueError("--epochs and --batch-size must be at least 1 and --lr positive")
        if args.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"unknown device {args.device!r}: use auto, cpu or cuda")
        result = run(args.epochs, args.seed, args.device, args.batch_size, args.lr, args.log_dir, verbose=True)
    except (ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: {result['steps']} optimizer steps on {result['device']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion
