"""Gradient accumulation with Lightning Fabric: your loop counts the window, no_backward_sync skips needless syncs."""

import argparse

import torch
from lightning_fabric import Fabric, seed_everything
from torch import nn
from torch.utils.data import DataLoader, SubsetRandomSampler, TensorDataset


def make_data(seed: int, n: int = 600, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    y = (x @ torch.randn(features, 2, generator=generator)).argmax(dim=1)
    split = int(0.8 * n)
    return TensorDataset(x[:split], y[:split]), TensorDataset(x[split:], y[split:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


def run(epochs: int = 5, seed: int = 0, device: str = "auto", batch_size: int = 16, accumulate: int = 4,
        lr: float = 0.1, verbose: bool = False) -> dict:
    if min(epochs, batch_size, accumulate) < 1:
        raise ValueError("--epochs, --batch-size and --accumulate must be at least 1")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    fabric = Fabric(accelerator=device, devices=1)
    seed_everything(seed)
    train_set, val_set = make_data(seed)
    generator = torch.Generator().manual_seed(seed)
    sampler = SubsetRandomSampler(range(len(train_set)), generator=generator)
    train_loader = DataLoader(train_set, batch_size=batch_size, sampler=sampler, generator=generator)
    val_loader = DataLoader(val_set, batch_size=batch_size)

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
                fabric.backward(loss / accumulate)
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
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--accumulate", type=int, default=4, help="micro-batches per optimizer step")
    args = parser.parse_args(argv)
    try:
        run(args.epochs, args.seed, args.device, args.batch_size, args.accumulate, verbose=True)
    except (ValueError, RuntimeError) as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
