"""Validation, test and prediction loops with Lightning Fabric: your own loops, with devices handled by Fabric."""

import argparse

import torch
from lightning_fabric import Fabric, seed_everything
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_data(seed: int, n: int = 600, features: int = 10, new: int = 40):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n + new, features, generator=generator)
    teacher = torch.randn(features, 2, generator=generator)
    y = (x @ teacher + 0.5 * torch.randn(n + new, 2, generator=generator)).argmax(dim=1)
    train, val = int(0.66 * n), int(0.83 * n)
    return (TensorDataset(x[:train], y[:train]), TensorDataset(x[train:val], y[train:val]),
            TensorDataset(x[val:n], y[val:n]), TensorDataset(x[n:]))


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 2))


def evaluate(model, loader, loss_fn):
    model.eval()
    loss_sum, correct = 0.0, 0
    with torch.no_grad():
        for x, y in loader:
            logits = model(x)
            loss_sum += loss_fn(logits, y) * len(x)
            correct += (logits.argmax(dim=1) == y).sum()
    return loss_sum.item() / len(loader.dataset), correct.item() / len(loader.dataset)


def predict(model, loader):
    model.eval()
    outputs = []
    with torch.no_grad():
        for (x,) in loader:
            outputs.append(model(x).softmax(dim=1))
    return torch.cat(outputs)


def run(epochs: int = 5, seed: int = 0, device: str = "auto", batch_size: int = 32,
        lr: float = 1e-2, verbose: bool = False) -> dict:
    if epochs < 1:
        raise ValueError("--epochs must be at least 1")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    fabric = Fabric(accelerator=device, devices=1)
    seed_everything(seed)
    train_set, val_set, test_set, new_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader, test_loader, new_loader = (DataLoader(data, batch_size=batch_size,
                                                      generator=torch.Generator().manual_seed(seed))
                                           for data in (val_set, test_set, new_set))

    model = build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model, optimizer = fabric.setup(model, optimizer)
    train_loader, val_loader, test_loader, new_loader = fabric.setup_dataloaders(
        train_loader, val_loader, test_loader, new_loader)
    loss_fn = nn.CrossEntropyLoss()
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
        history["val_loss"].append(evaluate(model, val_loader, loss_fn)[0])
        if verbose:
            fabric.print(f"epoch {epoch + 1}/{epochs}  train_loss {history['train_loss'][-1]:.4f}"
                         f"  val_loss {history['val_loss'][-1]:.4f}")

    test_loss, test_acc = evaluate(model, test_loader, loss_fn)
    predictions = predict(model, new_loader)
    if verbose:
        fabric.print(f"test: test_loss {test_loss:.4f}  test_acc {test_acc:.4f}")
        fabric.print(f"predict: {len(predictions)} rows, first {predictions[0].tolist()}")
    return {"model": model, "history": history, "test_loss": test_loss, "test_acc": test_acc,
            "predictions": predictions}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    args = parser.parse_args(argv)
    try:
        run(args.epochs, args.seed, args.device, verbose=True)
    except (ValueError, RuntimeError) as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
