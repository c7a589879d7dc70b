"""Logging by hand in plain PyTorch: a TensorBoard SummaryWriter and a CSV file, one version folder per run."""

import argparse
import csv
import sys
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
try:
    import tensorboard
    from torch.utils.tensorboard import SummaryWriter
except ImportError:
    sys.exit("error: this program needs TensorBoard: pip install tensorboard")

METRICS = ["train_loss_step", "train_loss_epoch", "val_loss"]


def make_data(seed: int, n: int = 500, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    y = (x @ torch.randn(features, 2, generator=generator)).argmax(dim=1)
    split = int(0.8 * n)
    return TensorDataset(x[:split], y[:split]), TensorDataset(x[split:], y[split:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


def resolve_device(name: str) -> torch.device:
    if name not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {name!r}: use auto, cpu or cuda")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was requested but no CUDA GPU is available")
    return torch.device(name if name != "auto" else "cuda" if torch.cuda.is_available() else "cpu")


def next_version(root: Path) -> str:
    taken = [int(p.name[len("version_"):]) for p in root.glob("*/version_*") if p.name[len("version_"):].isdigit()]
    return f"version_{max(taken, default=-1) + 1}"


def run(epochs: int = 4, seed: int = 0, device: str = "auto", batch_size: int = 64,
        lr: float = 1e-2, log_dir: str = "torch_logs", verbose: bool = False) -> dict:
    if epochs < 1:
        raise ValueError("--epochs must be at least 1")
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
    version = next_version(root)
    (root / "csv" / version).mkdir(parents=True)
    with open(root / "csv" / version / "metrics.csv", "w", newline="") as csv_file, \
            SummaryWriter(str(root / "tensorboard" / version)) as writer:
        table = csv.DictWriter(csv_file, fieldnames=["step", *METRICS])
        table.writeheader()

        def log(metrics: dict, step: int) -> None:
            for name, value in metrics.items():
                writer.add_scalar(name, value, step)
            table.writerow({"step": step, **metrics})

        step = 0
        for epoch in range(epochs):
            model.train()
            total = 0.0
            for x, y in train_loader:
                x, y = x.to(dev), y.to(dev)
                loss = loss_fn(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                value = loss.item()
                log({"train_loss_step": value}, step)
                total += value * len(x)
                step += 1

            model.eval()
            val_total = 0.0
            with torch.no_grad():
                for x, y in val_loader:
                    x, y = x.to(dev), y.to(dev)
                    val_total += loss_fn(model(x), y) * len(x)
            train_loss, val_loss = total / len(train_set), val_total.item() / len(val_set)
            log({"val_loss": val_loss, "train_loss_epoch": train_loss}, step - 1)
            if verbose:
                print(f"epoch {epoch + 1}/{epochs}  train_loss {train_loss:.4f}  val_loss {val_loss:.4f}")
    if verbose:
        print(f"wrote {root / 'csv' / version / 'metrics.csv'} and {root / 'tensorboard' / version}")
    return {"model": model}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--log-dir", default="torch_logs")
    args = parser.parse_args(argv)
    try:
        run(args.epochs, args.seed, args.device, log_dir=args.log_dir, verbose=True)
    except ValueError as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
