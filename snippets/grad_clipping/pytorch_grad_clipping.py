"""Gradient clipping in plain PyTorch: clip_grad_norm_ or clip_grad_value_ between backward and step."""

import argparse

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


def run(epochs: int = 5, seed: int = 0, device: str = "auto", algorithm: str = "norm", clip_val: float = 0.2,
        batch_size: int = 32, lr: float = 0.1, verbose: bool = False) -> dict:
    if epochs < 1:
        raise ValueError("--epochs must be at least 1")
    if algorithm not in ("norm", "value") or clip_val <= 0:
        raise ValueError("--algorithm must be norm or value and --clip-val positive")
    torch.manual_seed(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)

    dev = resolve_device(device)
    model = build_model().to(dev)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    history = {"train_loss": [], "val_loss": [], "max_grad_norm": []}

    for epoch in range(epochs):
        model.train()
        total, largest = 0.0, torch.zeros((), device=dev)
        for x, y in train_loader:
            x, y = x.to(dev), y.to(dev)
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            largest = torch.maximum(largest, torch.nn.utils.get_total_norm([p.grad for p in model.parameters()]))
            if algorithm == "norm":
                torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=clip_val)
            else:
                torch.nn.utils.clip_grad_value_(model.parameters(), clip_value=clip_val)
            optimizer.step()
            total += loss.detach() * len(x)
        history["train_loss"].append(total.item() / len(train_set))
        history["max_grad_norm"].append(largest.item())

        model.eval()
        total = 0.0
        with torch.no_grad():
            for x, y in val_loader:
                x, y = x.to(dev), y.to(dev)
                total += loss_fn(model(x), y) * len(x)
        history["val_loss"].append(total.item() / len(val_set))
        if verbose:
            print(f"epoch {epoch + 1}/{epochs}  train_loss {history['train_loss'][-1]:.4f}  val_loss "
                  f"{history['val_loss'][-1]:.4f}  largest grad norm {history['max_grad_norm'][-1]:.3f}")
    return {"model": model, "history": history}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--algorithm", default="norm", choices=("norm", "value"))
    parser.add_argument("--clip-val", type=float, default=0.2)
    args = parser.parse_args(argv)
    try:
        run(args.epochs, args.seed, args.device, args.algorithm, args.clip_val, verbose=True)
    except ValueError as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
