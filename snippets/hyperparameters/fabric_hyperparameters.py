"""Hyperparameters with Lightning Fabric: a config dict saved by fabric.save next to the weights, read back by fabric.load."""

import argparse
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


def evaluate(model: nn.Module, loader: DataLoader, loss_fn: nn.Module) -> float:
    model.eval()
    total = 0.0
    with torch.no_grad():
        for x, y in loader:
            total += loss_fn(model(x), y) * len(x)
    return (total / len(loader.dataset)).item()


def run(epochs: int = 5, seed: int = 0, device: str = "auto", hidden: int = 16, lr: float = 1e-3,
        ckpt_dir: str = ".", verbose: bool = False) -> dict:
    if epochs < 1:
        raise ValueError("--epochs must be at least 1")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    fabric = Fabric(accelerator=device, devices=1)
    seed_everything(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=32, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=32)

    config = {"hidden": hidden, "lr": lr}
    model = build_model(config["hidden"])
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
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
        history["train_loss"].append((total / len(train_set)).item())
        history["val_loss"].append(evaluate(model, val_loader, loss_fn))
        if verbose:
            fabric.print(f"epoch {epoch + 1}/{epochs}  train_loss {history['train_loss'][-1]:.4f}"
                         f"  val_loss {history['val_loss'][-1]:.4f}")

    path = Path(ckpt_dir) / "fabric_model.ckpt"
    fabric.save(path, {"config": config, "model": model, "optimizer": optimizer})

    checkpoint = fabric.load(path)
    restored = fabric.setup(build_model(checkpoint["config"]["hidden"]))
    restored.load_state_dict(checkpoint["model"])
    reloaded_val_loss = evaluate(restored, val_loader, loss_fn)
    if verbose:
        fabric.print(f"reloaded {path} with {checkpoint['config']}: val_loss {reloaded_val_loss:.4f}")
    return {"model": restored, "history": history, "hparams": checkpoint["config"],
            "reloaded_val_loss": reloaded_val_loss}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--hidden", type=int, default=16, help="width of the hidden layer")
    parser.add_argument("--ckpt-dir", default=".", help="folder for the checkpoint")
    args = parser.parse_args(argv)
    try:
        run(args.epochs, args.seed, args.device, args.hidden, ckpt_dir=args.ckpt_dir, verbose=True)
    except (ValueError, RuntimeError, OSError) as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
