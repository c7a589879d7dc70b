"""Mixed-precision training with Lightning Fabric: your loop, with Fabric(precision=...) handling autocast and scaling."""

import argparse

import torch
from lightning_fabric import Fabric, seed_everything
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_data(seed: int, n: int = 1024, features: int = 32):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    y = (x @ torch.randn(features, 4, generator=generator)).argmax(dim=1)
    split = int(0.8 * n)
    return TensorDataset(x[:split], y[:split]), TensorDataset(x[split:], y[split:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 4))


def run(epochs: int = 10, seed: int = 0, device: str = "auto", precision: str = "bf16-mixed",
        batch_size: int = 32, lr: float = 1e-3, verbose: bool = False) -> dict:
    if epochs < 1:
        raise ValueError("--epochs must be at least 1")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    if precision == "16-mixed" and (device == "cpu" or not torch.cuda.is_available()):
        raise ValueError("--precision 16-mixed (fp16 with a GradScaler) needs a CUDA GPU; on the CPU use bf16-mixed")
    fabric = Fabric(accelerator=device, devices=1, precision=precision)
    seed_everything(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)

    model = build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model, optimizer = fabric.setup(model, optimizer)
    train_loader, val_loader = fabric.setup_dataloaders(train_loader, val_loader)
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
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--precision", default="bf16-mixed", choices=("32-true", "bf16-mixed", "16-mixed"),
                        help="16-mixed needs a CUDA GPU")
    args = parser.parse_args(argv)
    try:
        run(args.epochs, args.seed, args.device, args.precision, verbose=True)
    except (ValueError, RuntimeError) as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
