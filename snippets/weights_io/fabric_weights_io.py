"""Weights in and out of Lightning Fabric: fabric.save into a plain nn.Module, plain weights in with load_raw, and to and from a Lightning .ckpt."""

import argparse
from pathlib import Path

import lightning_fabric
import torch
from lightning_fabric import Fabric, seed_everything
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


def predict(networks: dict, x: torch.Tensor, device) -> dict:
    with torch.no_grad():
        return {name: net.to(device).eval()(x.to(device)).cpu() for name, net in networks.items()}


def run(epochs: int = 3, seed: int = 0, device: str = "auto", out_dir: str = "weights_fabric",
        verbose: bool = False) -> dict:
    if epochs < 1:
        raise ValueError("--epochs must be at least 1")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    fabric = Fabric(accelerator=device, devices=1)
    seed_everything(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=32)

    model = build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
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

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fabric.save(out / "fabric.ckpt", {"model": model, "optimizer": optimizer, "epoch": epochs})

    net = build_model()
    net.load_state_dict(torch.load(out / "fabric.ckpt", map_location="cpu", weights_only=True)["model"])
    torch.save(net.state_dict(), out / "fabric_weights.pt")

    fresh = fabric.setup(build_model())
    fabric.load_raw(out / "fabric_weights.pt", fresh)

    fabric.save(out / "fabric_to_lightning.ckpt",
                {"state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
                 "hyper_parameters": {"lr": 1e-3}, "pytorch-lightning_version": lightning_fabric.__version__})
    checkpoint = fabric.load(out / "fabric_to_lightning.ckpt")
    from_lightning = fabric.setup(build_model())
    from_lightning.load_state_dict({k.removeprefix("model."): v for k, v in checkpoint["state_dict"].items()
                                    if k.startswith("model.")})

    networks = {"trained": model, "checkpoint": net, "weights": fresh, "lightning_ckpt": from_lightning}
    return {"model": model, "history": history, "predictions": predict(networks, val_set.tensors[0], fabric.device)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--out-dir", default="weights_fabric", help="folder for the files written")
    args = parser.parse_args(argv)
    try:
        run(args.epochs, args.seed, args.device, args.out_dir, verbose=True)
    except (ValueError, OSError, RuntimeError) as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
