"""The command line with Lightning Fabric: argparse as in plain PyTorch, a JSON config file that options on the command line override, and --print-config."""

import argparse
import json
import sys
from pathlib import Path

import torch
from lightning_fabric import Fabric, seed_everything
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_data(seed: int, n: int = 512, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    y = (x @ torch.randn(features, 2, generator=generator)).argmax(dim=1)
    split = int(0.8 * n)
    return TensorDataset(x[:split], y[:split]), TensorDataset(x[split:], y[split:])


def build_model(hidden: int = 16) -> nn.Module:
    return nn.Sequential(nn.Linear(10, hidden), nn.ReLU(), nn.Linear(hidden, 2))


def run(epochs: int = 5, seed: int = 0, device: str = "auto", batch_size: int = 32, lr: float = 1e-3,
        hidden: int = 16, out_dir: str = ".", verbose: bool = False) -> dict:
    if epochs < 1 or batch_size < 1 or hidden < 1 or lr <= 0:
        raise ValueError("--epochs, --batch-size and --hidden must be at least 1 and --lr positive")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    config = {"epochs": epochs, "seed": seed, "device": device, "batch_size": batch_size, "lr": lr, "hidden": hidden}
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    (Path(out_dir) / "config.json").write_text(json.dumps(config, indent=2) + "\n")

    fabric = Fabric(accelerator=device, devices=1)
    seed_everything(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)
    model = build_model(hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model, optimizer = fabric.setup(model, optimizer)
    train_loader, val_loader = fabric.setup_dataloaders(train_loader, val_loader)
    loss_fn = nn.CrossEntropyLoss()
    history = {"train_loss": [], "val_loss": []}

    for epoch in range(epochs):
        model.train()
        total = 0.0
        for x, y in train_loader:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            fabric.backward(loss)
            optimizer.step()
            total += loss.detach() * len(x)
        history["train_loss"].append(total.item() / len(train_set))

        model.eval()
        total = 0.0
        with torch.no_grad():
            for x, y in val_loader:
                total += loss_fn(model(x), y) * len(x)
        history["val_loss"].append(total.item() / len(val_set))
        if verbose:
            fabric.print(f"epoch {epoch + 1}/{epochs}  train_loss {history['train_loss'][-1]:.4f}"
                         f"  val_loss {history['val_loss'][-1]:.4f}")
    return {"model": model, "history": history}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", help="a JSON file of option values; options on the command line override it")
    parser.add_argument("--print-config", action="store_true", help="print the resolved options as JSON and exit")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--hidden", type=int, default=16, help="width of the hidden layer")
    parser.add_argument("--out-dir", default=".", help="where config.json, the resolved options, is saved")
    args = parser.parse_args(argv)
    if args.config:
        with open(args.config) as file:
            values = json.load(file)
        unknown = set(values) - set(vars(args))
        if unknown:
            raise ValueError(f"{args.config}: unknown option(s) {', '.join(sorted(unknown))}")
        parser.set_defaults(**values)
        args = parser.parse_args(argv)
    return args


def main(argv=None) -> int:
    try:
        args = parse_args(argv)
        options = {k: v for k, v in vars(args).items() if k not in ("config", "print_config")}
        if args.print_config:
            print(json.dumps(options, indent=2))
        else:
            run(**options, verbose=True)
    except (ValueError, OSError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
