"""Validation, test and prediction loops in plain PyTorch: eval mode, no_grad and the averaging, by hand."""

import argparse

import torch
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


def resolve_device(name: str) -> torch.device:
    if name not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {name!r}: use auto, cpu or cuda")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was requested but no CUDA GPU is available")
    return torch.device(name if name != "auto" else "cuda" if torch.cuda.is_available() else "cpu")


def evaluate(model, loader, loss_fn, dev):
    model.eval()
    loss_sum, correct = 0.0, 0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(dev), y.to(dev)
            logits = model(x)
            loss_sum += loss_fn(logits, y) * len(x)
            correct += (logits.argmax(dim=1) == y).sum()
    return loss_sum.item() / len(loader.dataset), correct.item() / len(loader.dataset)


def predict(model, loader, dev):
    model.eval()
    outputs = []
    with torch.no_grad():
        for (x,) in loader:
            outputs.append(model(x.to(dev)).softmax(dim=1))
    return torch.cat(outputs)


def run(epochs: int = 5, seed: int = 0, device: str = "auto", batch_size: int = 32,
        lr: float = 1e-2, verbose: bool = False) -> dict:
    if epochs < 1:
        raise ValueError("--epochs must be at least 1")
    torch.manual_seed(seed)
    train_set, val_set, test_set, new_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader, test_loader, new_loader = (DataLoader(data, batch_size=batch_size,
                                                      generator=torch.Generator().manual_seed(seed))
                                           for data in (val_set, test_set, new_set))

    dev = resolve_device(device)
    model = build_model().to(dev)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
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
        history["train_loss"].append(total.item() / len(train_set))
        history["val_loss"].append(evaluate(model, val_loader, loss_fn, dev)[0])
        if verbose:
            print(f"epoch {epoch + 1}/{epochs}  train_loss {history['train_loss'][-1]:.4f}"
                  f"  val_loss {history['val_loss'][-1]:.4f}")

    test_loss, test_acc = evaluate(model, test_loader, loss_fn, dev)
    predictions = predict(model, new_loader, dev)
    if verbose:
        print(f"test: test_loss {test_loss:.4f}  test_acc {test_acc:.4f}")
        print(f"predict: {len(predictions)} rows, first {predictions[0].tolist()}")
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
    except ValueError as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
