"""Debugging switches with Lightning Fabric: the same one-batch run, fixed subset, batch limits and anomaly detection by hand."""

import argparse
import contextlib
import sys
import warnings

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


def forward_line(trace: str) -> str:
    lines = [line.strip() for line in trace.splitlines()]
    files = [i for i, line in enumerate(lines) if line.startswith("File ")]
    if not files:
        return ""
    i = files[-1]
    where = lines[i].split(", ")
    return f"{where[1]} {where[2]}: {lines[i + 1]}" if len(where) > 2 and i + 1 < len(lines) else lines[i]


def run(epochs: int = 5, seed: int = 0, device: str = "auto", batch_size: int = 32, lr: float = 1e-3,
        fast_dev_run: bool = False, overfit_batches: int = 0, limit_train_batches: int = 0,
        limit_val_batches: int = 0, detect_anomaly: bool = False, inject_nan_at_step: int = 0,
        verbose: bool = False) -> dict:
    fabric = Fabric(accelerator=device, devices=1)
    seed_everything(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=not overfit_batches,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)
    if fast_dev_run:
        epochs, max_train, max_val = 1, 1, 1
    elif overfit_batches:
        max_train, max_val = overfit_batches, overfit_batches
    else:
        max_train, max_val = limit_train_batches or len(train_loader), limit_val_batches or len(val_loader)

    model = build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model, optimizer = fabric.setup(model, optimizer)
    train_loader, val_loader = fabric.setup_dataloaders(train_loader, val_loader)
    loss_fn = nn.CrossEntropyLoss()
    history = {"train_loss": [], "val_loss": []}
    steps, caught = 0, None
    # region: not counted (collects the values run() returns)
    train_batches, val_batches = 0, 0
    # endregion
    anomaly = torch.autograd.set_detect_anomaly(True) if detect_anomaly else contextlib.nullcontext()

    with warnings.catch_warnings(record=True) as seen, anomaly:
        warnings.filterwarnings("always", message="Error detected in")
        for epoch in range(epochs):
            model.train()
            total, count = torch.zeros((), device=fabric.device), 0
            for batch_idx, (x, y) in enumerate(train_loader):
                if batch_idx == max_train:
                    break
                loss = loss_fn(model(x), y)
                if steps + 1 == inject_nan_at_step:
                    loss = torch.sqrt(-loss)
                optimizer.zero_grad()
                try:
                    fabric.backward(loss)
                except RuntimeError as error:
                    caught = {"step": steps + 1, "epoch": epoch + 1, "error": str(error).splitlines()[0]}
                    break
                optimizer.step()
                total += loss.detach() * len(x)
                count += len(x)
                steps += 1
                # region: not counted (collects the values run() returns)
                train_batches += 1
                # endregion
            if caught:
                break
            history["train_loss"].append(total.item() / count)

            model.eval()
            total, count = torch.zeros((), device=fabric.device), 0
            with torch.no_grad():
                for batch_idx, (x, y) in enumerate(val_loader):
                    if batch_idx == max_val:
                        break
                    total += loss_fn(model(x), y) * len(x)
                    count += len(x)
                    # region: not counted (collects the values run() returns)
                    val_batches += 1
                    # endregion
            history["val_loss"].append(total.item() / count)
            if verbose:
                fabric.print(f"epoch {epoch + 1}/{epochs}  train_loss {history['train_loss'][-1]:.4f}"
                             f"  val_loss {history['val_loss'][-1]:.4f}")
    for warning in seen:
        if caught and str(warning.message).startswith("Error detected in"):
            caught["forward_call"] = forward_line(str(warning.message))
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)

    state = {k: v.detach().cpu() for k, v in model.module.state_dict().items()}
    nan_weights = any(bool(v.isnan().any()) for v in state.values())
    if verbose and caught:
        print(f"anomaly caught at step {caught['step']} (epoch {caught['epoch']}): {caught['error']}")
        print(f"forward call that produced it: {caught.get('forward_call', '?')}")
    if verbose and nan_weights:
        print("warning: the weights contain NaN")
    # region: not counted (collects the values run() returns)
    return {"history": history, "state_dict": state, "steps": steps, "device": str(fabric.device),
            "train_batches": train_batches, "val_batches": val_batches, "caught": caught,
            "nan_weights": nan_weights}
    # endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--fast-dev-run", action="store_true", help="one training and one validation batch")
    parser.add_argument("--overfit-batches", type=int, default=0,
                        help="train and validate on the first N batches of each loader, every epoch")
    parser.add_argument("--limit-train-batches", type=int, default=0, help="at most N training batches an epoch")
    parser.add_argument("--limit-val-batches", type=int, default=0, help="at most N validation batches an epoch")
    parser.add_argument("--detect-anomaly", action="store_true", help="stop at the first NaN in the backward pass")
    parser.add_argument("--inject-nan-at-step", type=int, default=0, help="make the loss NaN at step N (1-based)")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
        print("error: --epochs and --batch-size must be at least 1 and --lr positive", file=sys.stderr)
        return 2
    if min(args.overfit_batches, args.limit_train_batches, args.limit_val_batches, args.inject_nan_at_step) < 0:
        print("error: batch limits and --inject-nan-at-step must not be negative", file=sys.stderr)
        return 2
    if args.device not in ("auto", "cpu", "cuda"):
        print(f"error: unknown device {args.device!r}: use auto, cpu or cuda", file=sys.stderr)
        return 2
    try:
        result = run(args.epochs, args.seed, args.device, args.batch_size, args.lr, args.fast_dev_run,
                     args.overfit_batches, args.limit_train_batches, args.limit_val_batches,
                     args.detect_anomaly, args.inject_nan_at_step, verbose=True)
    except (ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: {result['steps']} optimizer steps, {result['train_batches']} training and "
          f"{result['val_batches']} validation batches on {result['device']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion
