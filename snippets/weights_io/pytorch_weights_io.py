"""Weights in plain PyTorch: a state dict out, and Lightning or Fabric checkpoints in, with torch alone."""

# region: not counted (the command line)
import argparse
import sys
# endregion

from pathlib import Path

import torch
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


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was requested but no CUDA GPU is available")
    return torch.device(name)


def load_weights(path, prefix: str = "model.") -> dict:
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if "state_dict" in checkpoint:
        state = {k.removeprefix(prefix): v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)}
    elif "model" in checkpoint:
        state = checkpoint["model"]
    else:
        state = checkpoint
    return {k.removeprefix("_orig_mod."): v for k, v in state.items()}


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
        out_dir: str = ".", convert: str | None = None, verbose: bool = False) -> dict:
    torch.manual_seed(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)

    dev = resolve_device(device)
    model = build_model().to(dev)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    # region: not counted (collects what run() returns)
    history = {"train_loss": [], "val_loss": []}
    # endregion

    for epoch in range(epochs):
        model.train()
        total, count = 0.0, 0
        for x, y in train_loader:
            x, y = x.to(dev), y.to(dev)
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(x)
            count += len(x)
        train_loss = total.item() / count

        model.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for x, y in val_loader:
                x, y = x.to(dev), y.to(dev)
                total += loss_fn(model(x), y) * len(x)
                count += len(x)
        val_loss = total.item() / count
        if verbose:
            print(f"epoch {epoch + 1}/{epochs}  train_loss {train_loss:.4f}  val_loss {val_loss:.4f}")
        # region: not counted (collects what run() returns)
        history["train_loss"].append(train_loss)
        history["val_loss"].append(val_loss)
        # endregion

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out / "pytorch_weights.pt")
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epochs},
               out / "pytorch_checkpoint.pt")

    from_weights = build_model()
    from_weights.load_state_dict(load_weights(out / "pytorch_weights.pt"))
    from_checkpoint = build_model()
    from_checkpoint.load_state_dict(load_weights(out / "pytorch_checkpoint.pt"))
    if convert:
        converted = build_model()
        converted.load_state_dict(load_weights(convert))
        torch.save(converted.state_dict(), out / f"{Path(convert).stem}_as_plain.pt")

    # region: not counted (the page's check, and collects what run() returns)
    x_val = val_set.tensors[0]
    round_trips = [compare("plain weights → nn.Module", out / "pytorch_weights.pt", model, from_weights, x_val),
                   compare("plain checkpoint → nn.Module", out / "pytorch_checkpoint.pt", model, from_checkpoint,
                           x_val)]
    if verbose:
        for trip in round_trips:
            print(f"{trip['route']}: {trip['file']}, {'bitwise identical' if trip['identical'] else 'DIFFERENT'}")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return {"history": history, "state_dict": state, "steps": epochs * len(train_loader), "device": str(dev),
            "round_trips": round_trips, "round_trip_max": max(t["difference"] for t in round_trips)}
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
    parser.add_argument("--convert", metavar="CKPT",
                        help="also turn a Lightning or Fabric checkpoint into plain weights, <name>_as_plain.pt")
    args = parser.parse_args(argv)
    try:
        if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
            raise ValueError("--epochs and --batch-size must be at least 1 and --lr positive")
        if args.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"unknown device {args.device!r}: use auto, cpu or cuda")
        result = run(args.epochs, args.seed, args.device, args.batch_size, args.lr, args.out_dir, args.convert,
                     verbose=True)
    except (ValueError, OSError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: {len(result['round_trips'])} round trips, largest difference {result['round_trip_max']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion
