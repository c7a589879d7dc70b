"""torch.compile in plain PyTorch: the model compiled with one call, each training step timed."""

import argparse
import statistics
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_data(seed: int, n: int = 512, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    y = (x @ torch.randn(features, 2, generator=generator)).argmax(dim=1)
    split = int(0.8 * n)
    return TensorDataset(x[:split], y[:split]), TensorDataset(x[split:], y[split:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


def resolve_device(name: str) -> torch.device:
    if name not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {name!r}: use auto, cpu or cuda")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was requested but no CUDA GPU is available")
    return torch.device(name if name != "auto" else "cuda" if torch.cuda.is_available() else "cpu")


def run(epochs: int = 5, seed: int = 0, device: str = "auto", compile: bool = True, batch_size: int = 32,
        lr: float = 1e-3, verbose: bool = False) -> dict:
    if epochs < 1:
        raise ValueError("--epochs must be at least 1")
    dev = resolve_device(device)
    torch.compiler.reset()
    torch.manual_seed(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)

    model = build_model().to(dev)
    net = torch.compile(model) if compile else model
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    history = {"train_loss": [], "val_loss": []}
    step_s = []

    for epoch in range(epochs):
        net.train()
        total = 0.0
        for x, y in train_loader:
            x, y = x.to(dev), y.to(dev)
            start = time.perf_counter()
            loss = loss_fn(net(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if dev.type == "cuda":
                torch.cuda.synchronize()
            step_s.append(time.perf_counter() - start)
            total += loss.detach() * len(x)
        history["train_loss"].append(total.item() / len(train_set))

        net.eval()
        total = 0.0
        with torch.no_grad():
            for x, y in val_loader:
                x, y = x.to(dev), y.to(dev)
                total += loss_fn(net(x), y) * len(x)
        history["val_loss"].append(total.item() / len(val_set))
        if verbose:
            print(f"epoch {epoch + 1}/{epochs}  train_loss {history['train_loss'][-1]:.4f}"
                  f"  val_loss {history['val_loss'][-1]:.4f}")
    first, median = step_s[0], statistics.median(step_s[1:] or step_s)
    if verbose:
        print(f"{'compiled' if compile else 'eager'}: first step {1000 * first:.1f} ms,"
              f" median step {1000 * median:.3f} ms")
    return {"model": model, "history": history, "first_step_s": first, "median_step_s": median}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--no-compile", action="store_true", help="train the eager model")
    args = parser.parse_args(argv)
    try:
        run(args.epochs, args.seed, args.device, compile=not args.no_compile, verbose=True)
    except ValueError as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
