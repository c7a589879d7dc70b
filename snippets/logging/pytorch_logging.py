"""Logging by hand in plain PyTorch: a TensorBoard SummaryWriter and a CSV file, then both read back from disk."""

# region: not counted (the command line, and reading the files back for the page)
import argparse
import sys

try:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
except ImportError:
    sys.exit("error: this program needs TensorBoard: pip install tensorboard")
# endregion

import csv
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.tensorboard import SummaryWriter


def make_data(seed: int, n: int = 500, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    teacher = torch.randn(features, 2, generator=generator)
    y = (x @ teacher).argmax(dim=1)
    split = int(0.8 * n)
    return TensorDataset(x[:split], y[:split]), TensorDataset(x[split:], y[split:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


def next_version(*folders: Path) -> int:
    taken = [int(p.name[len("version_"):]) for folder in folders for p in folder.glob("version_*")
             if p.name[len("version_"):].isdigit()]
    return max(taken, default=-1) + 1


# region: not counted (reads the files back, for the page)
METRICS = ("train_loss_step", "train_loss_epoch", "val_loss")


def read_csv(path: Path) -> dict:
    series = {name: {"step": [], "value": []} for name in METRICS}
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            series[row["metric"]]["step"].append(int(row["step"]))
            series[row["metric"]]["value"].append(float(row["value"]))
    return series


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


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was requested but no CUDA GPU is available")
    return torch.device(name)


def run(epochs: int = 4, seed: int = 0, device: str = "auto", batch_size: int = 64,
        lr: float = 1e-2, log_dir: str = "torch_logs", verbose: bool = False) -> dict:
    torch.manual_seed(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)

    dev = resolve_device(device)
    model = build_model().to(dev)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()

    root = Path(log_dir)
    version = next_version(root / "csv", root / "tensorboard")
    csv_folder = root / "csv" / f"version_{version}"
    tb_folder = root / "tensorboard" / f"version_{version}"
    csv_folder.mkdir(parents=True)
    # region: not counted (collects what run() returns)
    batch_sizes = []
    # endregion
    with open(csv_folder / "metrics.csv", "w", newline="") as csv_file, SummaryWriter(str(tb_folder)) as writer:
        table = csv.writer(csv_file)
        table.writerow(["epoch", "step", "metric", "value"])

        def log(epoch: int, step: int, name: str, value: float) -> None:
            writer.add_scalar(name, value, step)
            table.writerow([epoch, step, name, value])

        steps = 0
        for epoch in range(epochs):
            model.train()
            total, count = 0.0, 0
            for x, y in train_loader:
                x, y = x.to(dev), y.to(dev)
                loss = loss_fn(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                value = loss.item()
                log(epoch, steps, "train_loss_step", value)
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
                    x, y = x.to(dev), y.to(dev)
                    val_total += loss_fn(model(x), y) * len(x)
                    val_count += len(x)
            val_loss = val_total.item() / val_count
            log(epoch, steps - 1, "val_loss", val_loss)
            log(epoch, steps - 1, "train_loss_epoch", total / count)
            if verbose:
                print(f"epoch {epoch + 1}/{epochs}  train_loss {total / count:.4f}  val_loss {val_loss:.4f}")

    # region: not counted (reads the files back, for the page)
    logged_csv = read_csv(csv_folder / "metrics.csv")
    logged_tb, tags = read_tensorboard(tb_folder)
    files = list_files(root, [csv_folder, tb_folder])
    if verbose:
        for entry in files:
            print(f"wrote {entry['name']} ({entry['bytes']} bytes)")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return {"history": {"train_loss": logged_csv["train_loss_epoch"]["value"],
                        "val_loss": logged_csv["val_loss"]["value"]},
            "state_dict": state, "steps": steps, "device": str(dev), "batch_sizes": batch_sizes,
            "csv": logged_csv, "tensorboard": logged_tb, "tensorboard_tags": tags,
            "csv_columns": ["epoch", "step", "metric", "value"], "files": files}
    # endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--log-dir", default="torch_logs")
    args = parser.parse_args(argv)
    try:
        if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
            raise ValueError("--epochs and --batch-size must be at least 1 and --lr positive")
        if args.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"unknown device {args.device!r}: use auto, cpu or cuda")
        result = run(args.epochs, args.seed, args.device, args.batch_size, args.lr, args.log_dir, verbose=True)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: {result['steps']} optimizer steps on {result['device']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion
