"""Reproducible training in plain PyTorch: manual seeding, seeded DataLoader workers, deterministic algorithms."""

import argparse
import random
import sys

try:
    import numpy as np
except ImportError:
    sys.exit("error: this program needs NumPy: pip install numpy")

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset


class AugmentedDataset(Dataset):
    def __init__(self, x: torch.Tensor, y: torch.Tensor, rng=None):
        self.x, self.y, self.rng = x, y, rng

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index):
        scale = (self.rng or np.random).uniform(0.8, 1.2)
        noise = 0.1 * torch.randn(self.x.shape[1])
        return self.x[index] * scale + noise, self.y[index], torch.tensor(scale)


def make_data(seed: int, n: int = 512, features: int = 10, shared_generator: bool = False):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    y = (x @ torch.randn(features, 2, generator=generator)).argmax(dim=1)
    split = int(0.8 * n)
    rng = np.random.default_rng(seed) if shared_generator else None
    return AugmentedDataset(x[:split], y[:split], rng), TensorDataset(x[split:], y[split:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


def seed_worker(worker_id: int) -> None:
    worker_seed = torch.initial_seed() % 2**32
    np.random.seed(worker_seed)
    random.seed(worker_seed)


def resolve_device(name: str) -> torch.device:
    if name not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {name!r}: use auto, cpu or cuda")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was requested but no CUDA GPU is available")
    return torch.device(name if name != "auto" else "cuda" if torch.cuda.is_available() else "cpu")


def run(epochs: int = 3, seed: int = 0, device: str = "auto", batch_size: int = 32, num_workers: int = 2,
        seed_workers: bool = True, shared_generator: bool = False, verbose: bool = False) -> dict:
    if epochs < 1 or num_workers < 0:
        raise ValueError("--epochs must be at least 1 and --num-workers at least 0")
    dev = resolve_device(device)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    train_set, val_set = make_data(seed, shared_generator=shared_generator)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True, num_workers=num_workers,
                              worker_init_fn=seed_worker if seed_workers else None,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)

    model = build_model().to(dev)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    history = {"train_loss": [], "val_loss": []}
    scales = []

    for epoch in range(epochs):
        model.train()
        total = 0.0
        for x, y, scale in train_loader:
            x, y = x.to(dev), y.to(dev)
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(x)
            scales.append(scale)
        history["train_loss"].append(total.item() / len(train_set))

        model.eval()
        total = 0.0
        with torch.no_grad():
            for x, y in val_loader:
                x, y = x.to(dev), y.to(dev)
                total += loss_fn(model(x), y) * len(x)
        history["val_loss"].append(total.item() / len(val_set))
        if verbose:
            print(f"epoch {epoch + 1}/{epochs}  train_loss {history['train_loss'][-1]:.4f}"
                  f"  val_loss {history['val_loss'][-1]:.4f}")
    return {"model": model, "history": history, "scales": scales}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--no-worker-seeding", action="store_true")
    parser.add_argument("--shared-generator", action="store_true",
                        help="augment with one NumPy Generator created with the dataset")
    args = parser.parse_args(argv)
    try:
        run(args.epochs, args.seed, args.device, seed_workers=not args.no_worker_seeding,
            shared_generator=args.shared_generator, verbose=True)
    except ValueError as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
