"""Test, predict and ship with Lightning Fabric: your loops, fabric.save for the best weights, torch.export of the unwrapped module."""

import argparse
from pathlib import Path

import torch
from lightning_fabric import Fabric, seed_everything
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_data(seed: int, n: int = 640, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    y = (x @ torch.randn(features, 2, generator=generator)).argmax(dim=1)
    return (TensorDataset(x[:409], y[:409]), TensorDataset(x[409:512], y[409:512]),
            TensorDataset(x[512:], y[512:]))


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


def run(epochs: int = 5, seed: int = 0, device: str = "auto", batch_size: int = 32, lr: float = 0.03,
        test_with: str = "best", out_dir: str = ".", verbose: bool = False) -> dict:
    if epochs < 1 or test_with not in ("best", "final"):
        raise ValueError("--epochs must be at least 1 and --test-with best or final")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    fabric = Fabric(accelerator=device, devices=1)
    seed_everything(seed)
    train_set, val_set, test_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)
    test_loader = DataLoader(test_set, batch_size=batch_size)
    predict_loader = DataLoader(TensorDataset(test_set.tensors[0]), batch_size=batch_size)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    model = build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model, optimizer = fabric.setup(model, optimizer)
    train_loader, val_loader, test_loader, predict_loader = fabric.setup_dataloaders(
        train_loader, val_loader, test_loader, predict_loader)
    loss_fn = nn.CrossEntropyLoss()
    best_loss = float("inf")
    history = {"train_loss": [], "val_loss": []}

    for epoch in range(epochs):
        model.train()
        total = 0.0
        for x, y in train_loader:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            fabric.backward(loss)
            optimizer.step()
            total += loss.detach() * len(x)
        history["train_loss"].append(total.item() / len(train_set))

        model.eval()
        total = 0.0
        with torch.no_grad():
            for x, y in val_loader:
                total += loss_fn(model(x), y) * len(x)
        history["val_loss"].append(total.item() / len(val_set))
        if history["val_loss"][-1] < best_loss:
            best_loss = history["val_loss"][-1]
            fabric.save(out / "best.ckpt", {"model": model})
        if verbose:
            fabric.print(f"epoch {epoch + 1}/{epochs}  train_loss {history['train_loss'][-1]:.4f}"
                         f"  val_loss {history['val_loss'][-1]:.4f}")

    if test_with == "best":
        fabric.load(out / "best.ckpt", {"model": model})
    model.eval()
    total, correct = 0.0, 0
    with torch.no_grad():
        for x, y in test_loader:
            logits = model(x)
            total += loss_fn(logits, y) * len(x)
            correct += (logits.argmax(dim=1) == y).sum()
        predictions = torch.cat([model(x).cpu() for (x,) in predict_loader])
    test_loss, test_acc = total.item() / len(test_set), correct.item() / len(test_set)
    if verbose:
        fabric.print(f"test ({test_with} weights): test_loss {test_loss:.4f}  test_acc {test_acc:.4f}")
    torch.save(predictions, out / "predictions.pt")

    network = model.module.cpu()
    exported = torch.export.export(network, (test_set.tensors[0][:8],),
                                   dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(exported, out / "model.pt2")
    return {"model": model, "history": history, "best_val_loss": best_loss, "test_loss": test_loss,
            "test_accuracy": test_acc}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--test-with", default="best", help="best (the best validation epoch's weights) or final")
    parser.add_argument("--out-dir", default=".", help="folder for the files written (default: here)")
    args = parser.parse_args(argv)
    try:
        run(args.epochs, args.seed, args.device, test_with=args.test_with, out_dir=args.out_dir, verbose=True)
    except (ValueError, OSError, RuntimeError) as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
