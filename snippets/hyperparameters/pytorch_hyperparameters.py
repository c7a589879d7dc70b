"""Hyperparameters in plain PyTorch: a config dict saved with the weights, and the model rebuilt from it."""

import argparse
from pathlib import Path

import torch
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


def resolve_device(name: str) -> torch.device:
    if name not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {name!r}: use auto, cpu or cuda")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was requested but no CUDA GPU is available")
    return torch.device(name if name != "auto" else "cuda" if torch.cuda.is_available() else "cpu")


def evaluate(model: nn.Module, loader: DataLoader, loss_fn: nn.Module, dev: torch.device) -> float:
    model.eval()
    total = 0.0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(dev), y.to(dev)
            total += loss_fn(model(x), y) * len(x)
    return (total / len(loader.dataset)).item()


def run(epochs: int = 5, seed: int = 0, device: str = "auto", hidden: int = 16, lr: float = 1e-3,
        ckpt_dir: str = ".", verbose: bool = False) -> dict:
    if epochs < 1:
        raise ValueError("--epochs must be at least 1")
    torch.manual_seed(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=32, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=32)

    dev = resolve_device(device)
    config = {"hidden": hidden, "lr": lr}
    model = build_model(config["hidden"]).to(dev)
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    loss_fn = nn.CrossEntropyLoss()
    history = {"train_loss": [], "val_loss": []}

    for epoch in range(epochs):
        model.train()
        total = 0.0
        for x, y in train_loader:
            x, y = x.to(dev), y.to(dev)
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(x)
        history["train_loss"].append((total / len(train_set)).item())
        history["val_loss"].append(evaluate(model, val_loader, loss_fn, dev))
        if verbose:
            print(f"epoch {epoch + 1}/{epochs}  train_loss {history['train_loss'][-1]:.4f}"
                  f"  val_loss {history['val_loss'][-1]:.4f}")

    path = Path(ckpt_dir) / "torch_model.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"config": config, "state_dict": model.state_dict()}, path)

    checkpoint = torch.load(path, map_location=dev, weights_only=True)
    restored = build_model(checkpoint["config"]["hidden"]).to(dev)
    restored.load_state_dict(checkpoint["state_dict"])
    reloaded_val_loss = evaluate(restored, val_loader, loss_fn, dev)
    if verbose:
        print(f"reloaded {path} with {checkpoint['config']}: val_loss {reloaded_val_loss:.4f}")
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
    except (ValueError, OSError) as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
