"""Gradient accumulation at its edges with Lightning Fabric: your loop decides when to step and what to divide the loss by."""

import argparse

import torch
from lightning_fabric import Fabric, seed_everything
from torch import nn
from torch.utils.data import DataLoader, SubsetRandomSampler, TensorDataset

DIVISORS = ("n", "samples", "none")


def make_data(seed: int, train_size: int, val_size: int = 64, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(train_size + val_size, features, generator=generator)
    y = (x @ torch.randn(features, 2, generator=generator)).argmax(dim=1)
    return TensorDataset(x[:train_size], y[:train_size]), TensorDataset(x[train_size:], y[train_size:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


def window_samples(samples: int, batch_size: int, accumulate: int) -> list:
    sizes = [min(batch_size, samples - start) for start in range(0, samples, batch_size)]
    return [sum(sizes[i - i % accumulate:i - i % accumulate + accumulate]) for i in range(len(sizes))]


def scaled(loss, size: int, window: int, accumulate: int, divide_by: str):
    if divide_by == "n":
        return loss / accumulate
    if divide_by == "samples":
        return loss * size / window
    return loss


def run(epochs: int = 6, seed: int = 0, device: str = "auto", train_size: int = 40, batch_size: int = 16,
        accumulate: int = 4, divide_by: str = "n", lr: float = 0.1, verbose: bool = False) -> dict:
    if min(epochs, train_size, batch_size, accumulate) < 1:
        raise ValueError("--epochs, --train-size, --batch-size and --accumulate must be at least 1")
    if divide_by not in DIVISORS:
        raise ValueError(f"unknown --divide-by {divide_by!r}: use n, samples or none")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    fabric = Fabric(accelerator=device, devices=1)
    seed_everything(seed)
    train_set, val_set = make_data(seed, train_size)
    generator = torch.Generator().manual_seed(seed)
    sampler = SubsetRandomSampler(range(len(train_set)), generator=generator)
    train_loader = DataLoader(train_set, batch_size=batch_size, sampler=sampler, generator=generator)
    val_loader = DataLoader(val_set, batch_size=batch_size)
    windows = window_samples(len(train_set), batch_size, accumulate)

    model = build_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    model, optimizer = fabric.setup(model, optimizer)
    train_loader, val_loader = fabric.setup_dataloaders(train_loader, val_loader)
    loss_fn = nn.CrossEntropyLoss()
    history = {"train_loss": [], "val_loss": []}

    for epoch in range(epochs):
        model.train()
        total = 0.0
        for batch_idx, (x, y) in enumerate(train_loader):
            is_accumulating = (batch_idx + 1) % accumulate != 0 and batch_idx + 1 != len(train_loader)
            with fabric.no_backward_sync(model, enabled=is_accumulating):
                loss = loss_fn(model(x), y)
                fabric.backward(scaled(loss, len(x), windows[batch_idx], accumulate, divide_by))
            if not is_accumulating:
                optimizer.step()
                optimizer.zero_grad()
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--train-size", type=int, default=40, help="training samples")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--accumulate", type=int, default=4, help="micro-batches per optimizer step (N)")
    parser.add_argument("--divide-by", default="n",
                        help="n (each micro-batch loss / N), samples (/ the samples in its window) or none")
    args = parser.parse_args(argv)
    try:
        run(args.epochs, args.seed, args.device, args.train_size, args.batch_size, args.accumulate, args.divide_by,
            verbose=True)
    except (ValueError, RuntimeError) as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
