"""Logging with Lightning Fabric: fabric.log and log_dict into Fabric's CSV and TensorBoard loggers."""

import argparse
import sys

import torch
from lightning_fabric import Fabric, seed_everything
from lightning_fabric.loggers import CSVLogger, TensorBoardLogger
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
try:
    import tensorboard
except ImportError:
    sys.exit("error: this program needs TensorBoard: pip install tensorboard")


def make_data(seed: int, n: int = 500, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    y = (x @ torch.randn(features, 2, generator=generator)).argmax(dim=1)
    split = int(0.8 * n)
    return TensorDataset(x[:split], y[:split]), TensorDataset(x[split:], y[split:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


def run(epochs: int = 4, seed: int = 0, device: str = "auto", batch_size: int = 64,
        lr: float = 1e-2, log_dir: str = "fabric_logs", verbose: bool = False) -> dict:
    if epochs < 1:
        raise ValueError("--epochs must be at least 1")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    loggers = [CSVLogger(root_dir=log_dir, name="csv"), TensorBoardLogger(root_dir=log_dir, name="tensorboard")]
    fabric = Fabric(accelerator=device, devices=1, loggers=loggers)
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

    step = 0
    for epoch in range(epochs):
        model.train()
        total = 0.0
        for x, y in train_loader:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            fabric.backward(loss)
            optimizer.step()
            value = loss.item()
            fabric.log("train_loss_step", value, step=step)
            total += value * len(x)
            step += 1

        model.eval()
        val_total = 0.0
        with torch.no_grad():
            for x, y in val_loader:
                val_total += loss_fn(model(x), y) * len(x)
        train_loss, val_loss = total / len(train_set), val_total.item() / len(val_set)
        fabric.log_dict({"val_loss": val_loss, "train_loss_epoch": train_loss}, step=step - 1)
        if verbose:
            fabric.print(f"epoch {epoch + 1}/{epochs}  train_loss {train_loss:.4f}  val_loss {val_loss:.4f}")

    for logger in loggers:
        logger.finalize("success")
    if verbose:
        fabric.print(f"wrote {loggers[0].log_dir}/metrics.csv and {loggers[1].log_dir}")
    return {"model": model}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--log-dir", default="fabric_logs")
    args = parser.parse_args(argv)
    try:
        run(args.epochs, args.seed, args.device, log_dir=args.log_dir, verbose=True)
    except (ValueError, RuntimeError) as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
