"""Several validation sets with Lightning Fabric: your own loop over each set, the loaders set up by Fabric."""

import argparse

import torch
from lightning_fabric import Fabric, seed_everything
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_data(seed: int, n: int = 512, features: int = 10, noise: float = 1.0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    y = (x @ torch.randn(features, 2, generator=generator)).argmax(dim=1)
    split = int(0.8 * n)
    noisy = x[split:] + noise * torch.randn(n - split, features, generator=generator)
    return (TensorDataset(x[:split], y[:split]), TensorDataset(x[split:], y[split:]),
            TensorDataset(noisy, y[split:]))


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


def run(epochs: int = 5, seed: int = 0, device: str = "auto", batch_size: int = 32,
        lr: float = 1e-3, verbose: bool = False) -> dict:
    if epochs < 1:
        raise ValueError("--epochs must be at least 1")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    fabric = Fabric(accelerator=device, devices=1)
    seed_everything(seed)
    train_set, clean_set, noisy_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    clean_loader = DataLoader(clean_set, batch_size=batch_size)
    noisy_loader = DataLoader(noisy_set, batch_size=batch_size)

    model = build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model, optimizer = fabric.setup(model, optimizer)
    train_loader, clean_loader, noisy_loader = fabric.setup_dataloaders(train_loader, clean_loader, noisy_loader)
    val_loaders = {"clean": clean_loader, "noisy": noisy_loader}
    loss_fn = nn.CrossEntropyLoss()
    history = {}

    for epoch in range(epochs):
        model.train()
        total = 0.0
        for x, y in train_loader:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            fabric.backward(loss)
            optimizer.step()
            total += loss.detach() * len(x)
        metrics = {"train_loss": total.item() / len(train_set)}

        model.eval()
        with torch.no_grad():
            for name, loader in val_loaders.items():
                total, correct = 0.0, 0
                for x, y in loader:
                    logits = model(x)
                    total += loss_fn(logits, y) * len(x)
                    correct += (logits.argmax(dim=1) == y).sum()
                metrics[f"val_loss_{name}"] = total.item() / len(loader.dataset)
                metrics[f"val_acc_{name}"] = correct.item() / len(loader.dataset)
        for key, value in metrics.items():
            history.setdefault(key, []).append(value)
        if verbose:
            fabric.print(f"epoch {epoch + 1}/{epochs}  " + "  ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
    return {"model": model, "history": history, "metrics": metrics}


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
