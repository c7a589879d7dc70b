"""Hyperparameters with Lightning Fabric: a config dict saved by fabric.save next to the weights, read back by fabric.load."""

import argparse
import sys
from pathlib import Path

import torch
from lightning_fabric import Fabric, seed_everything
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_data(seed: int, n: int = 512, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    teacher = torch.randn(features, 2, generator=generator)
    y = (x @ teacher).argmax(dim=1)
    split = int(0.8 * n)
    return TensorDataset(x[:split], y[:split]), TensorDataset(x[split:], y[split:])


def build_model(hidden: int = 16) -> nn.Module:
    return nn.Sequential(nn.Linear(10, hidden), nn.ReLU(), nn.Linear(hidden, 2))


# region: not counted (the page's check: the rebuilt model predicts what the trained one did)
def predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(x).cpu()
# endregion


def run(epochs: int = 5, seed: int = 0, device: str = "auto", batch_size: int = 32, lr: float = 1e-3,
        hidden: int = 16, ckpt_dir: str = ".", verbose: bool = False) -> dict:
    fabric = Fabric(accelerator=device, devices=1)
    seed_everything(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)

    config = {"hidden": hidden, "lr": lr}
    model = build_model(config["hidden"])
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    model, optimizer = fabric.setup(model, optimizer)
    train_loader, val_loader = fabric.setup_dataloaders(train_loader, val_loader)
    loss_fn = nn.CrossEntropyLoss()
    # region: not counted (the values run() returns)
    history = {"train_loss": [], "val_loss": []}
    # endregion

    for epoch in range(epochs):
        model.train()
        total = 0.0
        for x, y in train_loader:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            fabric.backward(loss)
            optimizer.step()
            total += loss.detach() * len(x)
        train_loss = (total / len(train_set)).item()

        model.eval()
        total = 0.0
        with torch.no_grad():
            for x, y in val_loader:
                total += loss_fn(model(x), y) * len(x)
        val_loss = (total / len(val_set)).item()
        # region: not counted (the values run() returns)
        history["train_loss"].append(train_loss)
        history["val_loss"].append(val_loss)
        # endregion
        if verbose:
            fabric.print(f"epoch {epoch + 1}/{epochs}  train_loss {train_loss:.4f}  val_loss {val_loss:.4f}")

    path = Path(ckpt_dir) / "fabric_model.ckpt"
    fabric.save(path, {"config": config, "model": model, "optimizer": optimizer})

    checkpoint = fabric.load(path)
    restored = fabric.setup(build_model(checkpoint["config"]["hidden"]))
    restored.load_state_dict(checkpoint["model"])

    # region: not counted (the page's check: the rebuilt model predicts what the trained one did)
    dev = fabric.device
    x_val = val_set.tensors[0].to(dev)
    before, after = predict(model, x_val), predict(restored, x_val)
    identical = torch.equal(before, after)
    if verbose:
        print(f"saved {path.name}: hyperparameters {checkpoint['config']}")
        print(f"reloaded model predicts {'bitwise the same' if identical else 'DIFFERENTLY'}"
              f" on {len(x_val)} validation rows")
    state = {k: v.detach().cpu() for k, v in restored.module.state_dict().items()}
    return {"history": history, "state_dict": state, "steps": epochs * len(train_loader), "device": str(dev),
            "checkpoint": path.name, "checkpoint_keys": sorted(checkpoint), "checkpoint_bytes": path.stat().st_size,
            "saved_hparams": dict(checkpoint["config"]), "predictions": after,
            "reload_identical": identical, "reload_difference": float((before - after).abs().max())}
    # endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--hidden", type=int, default=16, help="width of the hidden layer")
    parser.add_argument("--ckpt-dir", default=".", help="folder for the checkpoint (default: here)")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0 or args.hidden < 1:
        print("error: --epochs, --batch-size and --hidden must be at least 1 and --lr positive", file=sys.stderr)
        return 2
    if args.device not in ("auto", "cpu", "cuda"):
        print(f"error: unknown device {args.device!r}: use auto, cpu or cuda", file=sys.stderr)
        return 2
    try:
        result = run(args.epochs, args.seed, args.device, args.batch_size, args.lr, args.hidden,
                     args.ckpt_dir, verbose=True)
    except (ValueError, RuntimeError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: {result['steps']} optimizer steps on {result['device']}")
    return 0
# endregion


if __name__ == "__main__":
    raise SystemExit(main())
