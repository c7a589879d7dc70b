"""Early stopping in plain PyTorch: patience and min_delta on the validation loss, by hand."""

import argparse
import math

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_data(seed: int, n: int = 512, features: int = 10):
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


class EarlyStopper:
    def __init__(self, patience: int, min_delta: float):
        self.patience = patience
        self.min_delta = min_delta
        self.best = math.inf
        self.wait = 0

    def should_stop(self, value: float) -> bool:
        if not math.isfinite(value):
            return True
        if value + self.min_delta < self.best:
            self.best = value
            self.wait = 0
            return False
        self.wait += 1
        return self.wait >= self.patience


def run(epochs: int = 20, seed: int = 0, device: str = "auto", batch_size: int = 32, lr: float = 0.03,
        patience: int = 3, min_delta: float = 0.002, verbose: bool = False) -> dict:
    if epochs < 1 or patience < 1 or min_delta < 0:
        raise ValueError("--epochs and --patience must be at least 1, --min-delta not negative")
    torch.manual_seed(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)

    dev = resolve_device(device)
    model = build_model().to(dev)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    stopper = EarlyStopper(patience, min_delta)
    history = {"train_loss": [], "val_loss": []}
    stopped_epoch = None

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

        model.eval()
        total = 0.0
        with torch.no_grad():
            for x, y in val_loader:
                x, y = x.to(dev), y.to(dev)
                total += loss_fn(model(x), y) * len(x)
        val_loss = (total / len(val_set)).item()
        history["val_loss"].append(val_loss)
        if verbose:
            print(f"epoch {epoch}  train_loss {history['train_loss'][-1]:.4f}  val_loss {val_loss:.4f}")
        if stopper.should_stop(val_loss):
            stopped_epoch = epoch
            if verbose:
                print(f"stopping: val_loss did not improve by more than {min_delta} for {stopper.wait} epochs;"
                      f" best {stopper.best:.4f}")
            break
    return {"model": model, "history": history, "stopped_epoch": stopped_epoch, "best_score": stopper.best}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=20, help="the most epochs to run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--min-delta", type=float, default=0.002)
    args = parser.parse_args(argv)
    try:
        run(args.epochs, args.seed, args.device, patience=args.patience, min_delta=args.min_delta, verbose=True)
    except ValueError as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
