"""Gradient accumulation with Lightning Fabric: your loop counts the window, no_backward_sync skips needless syncs."""

import argparse
import sys

import torch
from lightning_fabric import Fabric, seed_everything
from torch import nn
from torch.utils.data import DataLoader, SubsetRandomSampler, TensorDataset


def make_data(seed: int, n: int = 600, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    teacher = torch.randn(features, 2, generator=generator)
    y = (x @ teacher).argmax(dim=1)
    split = int(0.8 * n)
    return TensorDataset(x[:split], y[:split]), TensorDataset(x[split:], y[split:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


def run(epochs: int = 5, seed: int = 0, device: str = "auto", batch_size: int = 16, accumulate: int = 4,
        lr: float = 0.1, verbose: bool = False) -> dict:
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
    # region: not counted (collects what run() returns)
    history = {"train_loss": [], "val_loss": []}
    steps = 0
    # endregion

    for epoch in range(epochs):
        model.train()
        total, count = 0.0, 0
        for batch_idx, (x, y) in enumerate(train_loader):
            is_accumulating = (batch_idx + 1) % accumulate != 0 and batch_idx + 1 != len(train_loader)
            with fabric.no_backward_sync(model, enabled=is_accumulating):
                loss = loss_fn(model(x), y)
                fabric.backward(loss / accumulate)
            if not is_accumulating:
                optimizer.step()
                optimizer.zero_grad()
                # region: not counted (collects what run() returns)
                steps += 1
                # endregion
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
        # region: not counted (collects what run() returns)
        history["train_loss"].append(train_loss)
        history["val_loss"].append(val_loss)
        # endregion
        if verbose:
            fabric.print(f"epoch {epoch + 1}/{epochs}  train_loss {train_loss:.4f}  val_loss {val_loss:.4f}")

    # region: not counted (collects what run() returns)
    state = {k: v.detach().cpu() for k, v in model.module.state_dict().items()}
    return {"history": history, "state_dict": state, "steps": steps, "device": str(fabric.device),
            "batches_per_epoch": len(train_loader)}
    # endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--accumulate", type=int, default=4, help="micro-batches per optimizer step")
    parser.add_argument("--lr", type=float, default=0.1)
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return stop.code
    if args.device not in ("auto", "cpu", "cuda"):
        print(f"error: unknown device {args.device!r}: use auto, cpu or cuda", file=sys.stderr)
        return 2
    if args.epochs < 1 or args.batch_size < 1 or args.accumulate < 1 or args.lr <= 0:
        print("error: --epochs, --batch-size and --accumulate must be at least 1 and --lr positive", file=sys.stderr)
        return 2
    try:
        result = run(args.epochs, args.seed, args.device, args.batch_size, args.accumulate, args.lr, verbose=True)
    except (ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: {result['steps']} optimizer steps from {result['batches_per_epoch']} batches per epoch"
          f" on {result['device']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion
