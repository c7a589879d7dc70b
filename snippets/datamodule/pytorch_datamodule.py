"""Real data in plain PyTorch: scikit-learn's bundled digits, split and standardized, in a Dataset and DataLoaders."""

import argparse
import sys

import torch
try:
    from sklearn.datasets import load_digits
except ImportError:
    sys.exit("error: this program needs scikit-learn (for its bundled digits data): pip install scikit-learn")
from torch import nn
from torch.utils.data import DataLoader, Dataset


class DigitsDataset(Dataset):
    def __init__(self, features: torch.Tensor, targets: torch.Tensor):
        self.features = features
        self.targets = targets

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        return self.features[index], self.targets[index]


def make_datasets(seed: int):
    digits = load_digits()
    x = torch.tensor(digits.data, dtype=torch.float32)
    y = torch.tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    held_out = len(x) // 5
    test, val, train = order[:held_out], order[held_out:2 * held_out], order[2 * held_out:]
    mean, std = x[train].mean(dim=0), x[train].std(dim=0)
    std = torch.where(std > 0, std, torch.ones_like(std))
    return {name: DigitsDataset((x[rows] - mean) / std, y[rows])
            for name, rows in (("train", train), ("val", val), ("test", test))}


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


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


def run(epochs: int = 8, seed: int = 0, device: str = "auto", batch_size: int = 64,
        lr: float = 1e-2, verbose: bool = False) -> dict:
    if epochs < 1:
        raise ValueError("--epochs must be at least 1")
    torch.manual_seed(seed)
    datasets = make_datasets(seed)
    train_loader = DataLoader(datasets["train"], batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(datasets["val"], batch_size=batch_size)
    test_loader = DataLoader(datasets["test"], batch_size=batch_size)

    dev = resolve_device(device)
    model = build_model().to(dev)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    history = {"train_loss": [], "val_loss": [], "val_acc": []}

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
        val_loss, val_acc = evaluate(model, val_loader, loss_fn, dev)
        train_loss = total.item() / len(datasets["train"])
        for key, value in (("train_loss", train_loss), ("val_loss", val_loss), ("val_acc", val_acc)):
            history[key].append(value)
        if verbose:
            print(f"epoch {epoch + 1}/{epochs}  " + "  ".join(f"{k} {v[-1]:.4f}" for k, v in history.items()))

    test_loss, test_acc = evaluate(model, test_loader, loss_fn, dev)
    if verbose:
        print(f"test: test_loss {test_loss:.4f}  test_acc {test_acc:.4f}")
    return {"model": model, "history": history, "test_loss": test_loss, "test_acc": test_acc}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=8)
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
