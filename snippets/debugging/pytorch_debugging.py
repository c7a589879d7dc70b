"""Debugging switches in plain PyTorch: one-batch smoke run, overfitting a fixed subset, batch limits, anomaly detection."""

import argparse
from itertools import islice

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


def run(epochs: int = 5, seed: int = 0, device: str = "auto", fast_dev_run: bool = False,
        overfit_batches: int = 0, limit_train_batches: int | None = None, limit_val_batches: int | None = None,
        detect_anomaly: bool = False, inject_nan_at_step: int = 0, verbose: bool = False) -> dict:
    if epochs < 1:
        raise ValueError("--epochs must be at least 1")
    if fast_dev_run:
        epochs, limit_train_batches, limit_val_batches = 1, 1, 1
    if overfit_batches:
        limit_train_batches = limit_val_batches = overfit_batches
    torch.manual_seed(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=32, shuffle=not overfit_batches,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=32)

    dev = resolve_device(device)
    model = build_model().to(dev)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    history = {"train_loss": [], "val_loss": []}
    step, anomaly = 0, None

    try:
        with torch.autograd.set_detect_anomaly(detect_anomaly):
            for epoch in range(epochs):
                model.train()
                total, count = 0.0, 0
                for x, y in islice(train_loader, limit_train_batches):
                    x, y = x.to(dev), y.to(dev)
                    loss = loss_fn(model(x), y)
                    step += 1
                    if step == inject_nan_at_step:
                        loss = torch.sqrt(-loss)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    total += loss.detach() * len(x)
                    count += len(x)
                history["train_loss"].append(total.item() / count)

                model.eval()
                total, count = 0.0, 0
                with torch.no_grad():
                    for x, y in islice(val_loader, limit_val_batches):
                        x, y = x.to(dev), y.to(dev)
                        total += loss_fn(model(x), y) * len(x)
                        count += len(x)
                history["val_loss"].append(total.item() / count)
                if verbose:
                    print(f"epoch {epoch + 1}/{epochs}  train_loss {history['train_loss'][-1]:.4f}"
                          f"  val_loss {history['val_loss'][-1]:.4f}")
    except RuntimeError as error:
        if not detect_anomaly:
            raise
        anomaly = str(error)
        if verbose:
            print(f"stopped at step {step} by anomaly detection: {anomaly}")
    return {"model": model, "history": history, "anomaly": anomaly}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--fast-dev-run", action="store_true", help="one training and one validation batch")
    parser.add_argument("--overfit-batches", type=int, default=0, help="the first N batches of each loader")
    parser.add_argument("--limit-train-batches", type=int, help="at most N training batches an epoch")
    parser.add_argument("--limit-val-batches", type=int, help="at most N validation batches an epoch")
    parser.add_argument("--detect-anomaly", action="store_true", help="stop at the first NaN in a backward pass")
    parser.add_argument("--inject-nan-at-step", type=int, default=0, help="make the loss of step N NaN")
    args = parser.parse_args(argv)
    try:
        run(args.epochs, args.seed, args.device, args.fast_dev_run, args.overfit_batches, args.limit_train_batches,
            args.limit_val_batches, args.detect_anomaly, args.inject_nan_at_step, verbose=True)
    except ValueError as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
