"""Learning-rate schedules in plain PyTorch: StepLR stepped once per epoch, OneCycleLR once per optimizer step."""

import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

SCHEDULES = ("step", "onecycle")


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


def run(epochs: int = 8, seed: int = 0, device: str = "auto", schedule: str = "onecycle",
        batch_size: int = 32, lr: float = 0.1, verbose: bool = False) -> dict:
    if epochs < 1:
        raise ValueError("--epochs must be at least 1")
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}: use step or onecycle")
    torch.manual_seed(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)

    dev = resolve_device(device)
    model = build_model().to(dev)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    if schedule == "step":
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    else:
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr,
                                                        total_steps=epochs * len(train_loader))
    loss_fn = nn.CrossEntropyLoss()
    history = {"lr": [], "train_loss": [], "val_loss": []}

    for epoch in range(epochs):
        history["lr"].append(scheduler.get_last_lr()[0])
        model.train()
        total = 0.0
        for x, y in train_loader:
            x, y = x.to(dev), y.to(dev)
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if schedule == "onecycle":
                scheduler.step()
            total += loss.detach() * len(x)
        if schedule == "step":
            scheduler.step()
        history["train_loss"].append(total.item() / len(train_set))

        model.eval()
        total = 0.0
        with torch.no_grad():
            for x, y in val_loader:
                x, y = x.to(dev), y.to(dev)
                total += loss_fn(model(x), y) * len(x)
        history["val_loss"].append(total.item() / len(val_set))
        if verbose:
            print(f"epoch {epoch + 1}/{epochs}  lr {history['lr'][-1]:.5f}"
                  f"  train_loss {history['train_loss'][-1]:.4f}  val_loss {history['val_loss'][-1]:.4f}")
    return {"model": model, "history": history}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--schedule", default="onecycle", choices=SCHEDULES,
                        help="step (StepLR, per epoch) or onecycle (OneCycleLR, per step)")
    args = parser.parse_args(argv)
    try:
        run(args.epochs, args.seed, args.device, args.schedule, verbose=True)
    except ValueError as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
