"""Keeping the best k checkpoints by validation loss, and the latest one, in plain PyTorch with torch.save."""

import argparse
import os

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


def clear_checkpoints(ckpt_dir: str) -> None:
    os.makedirs(ckpt_dir, exist_ok=True)
    for name in os.listdir(ckpt_dir):
        if name.endswith(".ckpt"):
            os.remove(os.path.join(ckpt_dir, name))


def run(epochs: int = 10, seed: int = 0, device: str = "auto", save_top_k: int = 3,
        ckpt_dir: str = "checkpoints_torch", verbose: bool = False) -> dict:
    if epochs < 1 or save_top_k < 1:
        raise ValueError("--epochs and --save-top-k must be at least 1")
    torch.manual_seed(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=32)
    clear_checkpoints(ckpt_dir)

    dev = resolve_device(device)
    model = build_model().to(dev)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    loss_fn = nn.CrossEntropyLoss()
    history = {"train_loss": [], "val_loss": []}
    best_k, steps = {}, 0

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
            steps += 1
        history["train_loss"].append((total / len(train_set)).item())

        model.eval()
        total = 0.0
        with torch.no_grad():
            for x, y in val_loader:
                x, y = x.to(dev), y.to(dev)
                total += loss_fn(model(x), y) * len(x)
        val_loss = (total / len(val_set)).item()
        history["val_loss"].append(val_loss)
        if verbose:
            print(f"epoch {epoch}  train_loss {history['train_loss'][-1]:.4f}  val_loss {val_loss:.4f}")

        checkpoint = {"epoch": epoch, "global_step": steps, "val_loss": val_loss,
                      "model": model.state_dict(), "optimizer": optimizer.state_dict()}
        torch.save(checkpoint, os.path.join(ckpt_dir, "last.ckpt"))
        name = f"epoch={epoch:02d}.ckpt"
        if len(best_k) < save_top_k or val_loss < max(best_k.values()):
            torch.save(checkpoint, os.path.join(ckpt_dir, name))
            best_k[name] = val_loss
            if len(best_k) > save_top_k:
                worst = max(best_k, key=best_k.get)
                os.remove(os.path.join(ckpt_dir, worst))
                del best_k[worst]

    best_path = os.path.join(ckpt_dir, min(best_k, key=best_k.get))
    restored = build_model().to(dev)
    restored.load_state_dict(torch.load(best_path, map_location=dev, weights_only=True)["model"])
    restored.eval()
    with torch.no_grad():
        predictions = restored(val_set.tensors[0].to(dev)).cpu()
    return {"model": model, "history": history, "best_model_path": best_path, "predictions": predictions}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--save-top-k", type=int, default=3)
    parser.add_argument("--ckpt-dir", default="checkpoints_torch", help=".ckpt files already in it are replaced")
    args = parser.parse_args(argv)
    try:
        result = run(args.epochs, args.seed, args.device, args.save_top_k, args.ckpt_dir, verbose=True)
    except ValueError as error:
        parser.exit(2, f"error: {error}\n")
    print(f"best checkpoint: {result['best_model_path']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
