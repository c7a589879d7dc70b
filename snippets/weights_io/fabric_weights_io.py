"""Weights in and out of Lightning Fabric: fabric.save into a plain nn.Module, plain weights in with load_raw, and to and from a Lightning .ckpt."""

# region: not counted (the command line)
import argparse
import sys
# endregion

from pathlib import Path

import lightning_fabric
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


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


# region: not counted (the page's check: a reloaded network against the trained one, bit for bit)
def compare(route: str, path: Path, trained: nn.Module, restored: nn.Module, x: torch.Tensor) -> dict:
    stored = torch.load(path, map_location="cpu", weights_only=True)
    weights = stored.get("state_dict", stored.get("model", stored))
    dev = next(trained.parameters()).device
    restored.to(dev)
    difference = max((a - b).abs().max().item()
                     for a, b in zip(trained.state_dict().values(), restored.state_dict().values()))
    trained.eval()
    restored.eval()
    with torch.no_grad():
        same = torch.equal(trained(x.to(dev)), restored(x.to(dev)))
    return {"route": route, "file": path.name, "top_keys": sorted(stored), "first_key": next(iter(weights)),
            "difference": difference, "identical": difference == 0.0 and same}
# endregion


def run(epochs: int = 3, seed: int = 0, device: str = "auto", batch_size: int = 32, lr: float = 1e-3,
        out_dir: str = ".", verbose: bool = False) -> dict:
    fabric = Fabric(accelerator=device, devices=1)
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
    history = {"train_loss": [], "val_loss": []}
    # endregion

    for epoch in range(epochs):
        model.train()
        total, count = 0.0, 0
        for x, y in train_loader:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            fabric.backward(loss)
            optimizer.step()
            total += loss.detach() * len(x)
            count += len(x)
        train_loss = total.item() / count

        model.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for x, y in val_loader:
                total += loss_fn(model(x), y) * len(x)
                count += len(x)
        val_loss = total.item() / count
        if verbose:
            fabric.print(f"epoch {epoch + 1}/{epochs}  train_loss {train_loss:.4f}  val_loss {val_loss:.4f}")
        # region: not counted (collects what run() returns)
        history["train_loss"].append(train_loss)
        history["val_loss"].append(val_loss)
        # endregion

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fabric.save(out / "fabric.ckpt", {"model": model, "optimizer": optimizer, "epoch": epochs})

    net = build_model()
    net.load_state_dict(torch.load(out / "fabric.ckpt", map_location="cpu", weights_only=True)["model"])
    torch.save(net.state_dict(), out / "fabric_weights.pt")

    fresh = fabric.setup(build_model())
    fabric.load_raw(out / "fabric_weights.pt", fresh)

    fabric.save(out / "fabric_to_lightning.ckpt",
                {"state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
                 "hyper_parameters": {"lr": lr}, "pytorch-lightning_version": lightning_fabric.__version__})
    checkpoint = fabric.load(out / "fabric_to_lightning.ckpt")
    from_lightning = fabric.setup(build_model())
    from_lightning.load_state_dict({k.removeprefix("model."): v for k, v in checkpoint["state_dict"].items()
                                    if k.startswith("model.")})

    # region: not counted (the page's check, and collects what run() returns)
    x_val = val_set.tensors[0]
    round_trips = [compare("fabric.save → plain nn.Module", out / "fabric.ckpt", model.module, net, x_val),
                   compare("plain weights → load_raw", out / "fabric_weights.pt", model.module, fresh.module, x_val),
                   compare("Fabric → Lightning .ckpt → Fabric", out / "fabric_to_lightning.ckpt", model.module,
                           from_lightning.module, x_val)]
    if verbose:
        for trip in round_trips:
            verdict = "bitwise identical" if trip["identical"] else "DIFFERENT"
            fabric.print(f"{trip['route']}: {trip['file']}, {verdict}")
    state = {k: v.detach().cpu() for k, v in model.module.state_dict().items()}
    return {"history": history, "state_dict": state, "steps": epochs * len(train_loader),
            "device": str(fabric.device), "round_trips": round_trips,
            "round_trip_max": max(t["difference"] for t in round_trips)}
    # endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--out-dir", default=".", help="folder for the files written (default: here)")
    args = parser.parse_args(argv)
    try:
        if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
            raise ValueError("--epochs and --batch-size must be at least 1 and --lr positive")
        if args.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"unknown device {args.device!r}: use auto, cpu or cuda")
        result = run(args.epochs, args.seed, args.device, args.batch_size, args.lr, args.out_dir, verbose=True)
    except (ValueError, OSError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: {len(result['round_trips'])} round trips, largest difference {result['round_trip_max']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion
