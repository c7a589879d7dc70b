"""Weights in plain PyTorch: a state dict out, and Lightning or Fabric checkpoints in, with torch alone."""

import argparse
from pathlib import Path

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


def load_weights(path, prefix: str = "model.") -> dict:
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if "state_dict" in checkpoint:
        state = {k.removeprefix(prefix): v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)}
    elif "model" in checkpoint:
        state = checkpoint["model"]
    else:
        state = checkpoint
    return {k.removeprefix("_orig_mod."): v for k, v in state.items()}


def predict(networks: dict, x: torch.Tensor, device) -> dict:
    with torch.no_grad():
        return {name: net.to(device).eval()(x.to(device)).cpu() for name, net in networks.items()}


def run(epochs: int = 3, seed: int = 0, device: str = "auto", out_dir: str = "weights_torch",
        convert: str | None = None, verbose: bool = False) -> dict:
    if epochs < 1:
        raise ValueError("--epochs must be at least 1")
    torch.manual_seed(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=32)

    dev = resolve_device(device)
    model = build_model().to(dev)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
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

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out / "pytorch_weights.pt")
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epochs},
               out / "pytorch_checkpoint.pt")

    from_weights = build_model()
    from_weights.load_state_dict(load_weights(out / "pytorch_weights.pt"))
    from_checkpoint = build_model()
    from_checkpoint.load_state_dict(load_weights(out / "pytorch_checkpoint.pt"))
    if convert:
        converted = build_model()
        converted.load_state_dict(load_weights(convert))
        torch.save(converted.state_dict(), out / f"{Path(convert).stem}_as_plain.pt")

    predictions = predict({"trained": model, "weights": from_weights, "checkpoint": from_checkpoint},
                          val_set.tensors[0], dev)
    return {"model": model, "history": history, "predictions": predictions}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--out-dir", default="weights_torch", help="folder for the files written")
    parser.add_argument("--convert", metavar="CKPT",
                        help="also turn a Lightning or Fabric checkpoint into plain weights, <name>_as_plain.pt")
    args = parser.parse_args(argv)
    try:
        run(args.epochs, args.seed, args.device, args.out_dir, args.convert, verbose=True)
    except (ValueError, OSError) as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
