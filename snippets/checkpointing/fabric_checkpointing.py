"""Keeping the best k checkpoints by validation loss, and the latest one, with Lightning Fabric's fabric.save."""

import argparse
import os
import sys

import torch
from lightning_fabric import Fabric, seed_everything
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_data(seed: int, n: int = 512, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    teacher = torch.randn(features, 2, generator=generator)
    y = (x @ teacher).argmax(dim=1)
    split = int(0.8 * n)
    return TensorDataset(x[:split], y[:split]), TensorDataset(x[split:], y[split:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


def prepare_folder(ckpt_dir: str) -> None:
    os.makedirs(ckpt_dir, exist_ok=True)
    for name in os.listdir(ckpt_dir):
        if name.endswith(".ckpt"):
            os.remove(os.path.join(ckpt_dir, name))


# region: not counted (describes each checkpoint file for the page's tables)
def describe(value, depth: int = 0) -> dict:
    if isinstance(value, torch.Tensor):
        return {"type": "tensor", "tensors": 1, "tensor_bytes": value.numel() * value.element_size(),
                "shape": list(value.shape)}
    if isinstance(value, dict):
        parts = {str(k): describe(v, depth + 1) for k, v in value.items()}
        info = {"type": "dict", "keys": list(parts), "tensors": sum(p["tensors"] for p in parts.values()),
                "tensor_bytes": sum(p["tensor_bytes"] for p in parts.values())}
        if value and all(isinstance(v, torch.Tensor) for v in value.values()):
            info["shapes"] = {k: p["shape"] for k, p in parts.items()}
        if depth == 0:
            info["items"] = {k: p for k, p in parts.items() if p["type"] == "dict"}
        return info
    if isinstance(value, (list, tuple)):
        parts = [describe(v, depth + 1) for v in value]
        return {"type": "list", "length": len(value), "tensors": sum(p["tensors"] for p in parts),
                "tensor_bytes": sum(p["tensor_bytes"] for p in parts)}
    if isinstance(value, (int, float, bool)) or value is None or (isinstance(value, str) and depth == 0):
        return {"type": type(value).__name__, "value": value, "tensors": 0, "tensor_bytes": 0}
    return {"type": type(value).__name__, "tensors": 0, "tensor_bytes": 0}


def inventory(ckpt_dir: str) -> dict:
    contents = {}
    for name in sorted(os.listdir(ckpt_dir)):
        path = os.path.join(ckpt_dir, name)
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        contents[name] = {"file_bytes": os.path.getsize(path),
                          "keys": {str(k): describe(v) for k, v in checkpoint.items()}}
    return contents
# endregion


def run(epochs: int = 10, seed: int = 0, device: str = "auto", batch_size: int = 32, lr: float = 0.03,
        save_top_k: int = 3, ckpt_dir: str = "checkpoints_fabric", verbose: bool = False) -> dict:
    fabric = Fabric(accelerator=device, devices=1)
    seed_everything(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)
    prepare_folder(ckpt_dir)

    model = build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model, optimizer = fabric.setup(model, optimizer)
    train_loader, val_loader = fabric.setup_dataloaders(train_loader, val_loader)
    loss_fn = nn.CrossEntropyLoss()
    best_k = {}
    steps = 0
    # region: not counted (the values run() returns)
    history = {"train_loss": [], "val_loss": []}
    # endregion

    for epoch in range(epochs):
        model.train()
        total = 0.0
        for x, y in train_loader:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            fabric.backward(loss)
            optimizer.step()
            total += loss.detach() * len(x)
            steps += 1
        train_loss = (total / len(train_set)).item()

        model.eval()
        total = 0.0
        with torch.no_grad():
            for x, y in val_loader:
                total += loss_fn(model(x), y) * len(x)
        val_loss = (total / len(val_set)).item()
        # region: not counted (the values run() returns)
        history["train_loss"].append(train_loss)
        history["val_loss"].append(val_loss)
        # endregion
        if verbose:
            fabric.print(f"epoch {epoch}  train_loss {train_loss:.4f}  val_loss {val_loss:.4f}")

        checkpoint = {"epoch": epoch, "global_step": steps, "val_loss": val_loss,
                      "model": model, "optimizer": optimizer}
        fabric.save(os.path.join(ckpt_dir, "last.ckpt"), checkpoint)
        name = f"epoch={epoch:02d}.ckpt"
        if len(best_k) < save_top_k or val_loss < max(best_k.values()):
            fabric.save(os.path.join(ckpt_dir, name), checkpoint)
            best_k[name] = val_loss
            if len(best_k) > save_top_k:
                worst = max(best_k, key=best_k.get)
                os.remove(os.path.join(ckpt_dir, worst))
                del best_k[worst]

    best_file = min(best_k, key=best_k.get)
    restored = fabric.setup(build_model())
    fabric.load(os.path.join(ckpt_dir, best_file), {"model": restored})
    restored.eval()
    with torch.no_grad():
        predictions = restored(val_set.tensors[0].to(fabric.device)).cpu()

    # region: not counted (the values run() returns)
    state = {k: v.detach().cpu() for k, v in model.module.state_dict().items()}
    return {"history": history, "state_dict": state, "steps": steps, "device": str(fabric.device),
            "kept_files": sorted(os.listdir(ckpt_dir)),
            "kept_epochs": sorted(int(name[6:-5]) for name in best_k),
            "best_file": best_file, "best_predictions": predictions,
            "checkpoints": inventory(ckpt_dir)}
    # endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.03)
    parser.add_argument("--save-top-k", type=int, default=3)
    parser.add_argument("--ckpt-dir", default="checkpoints_fabric",
                        help="folder for the checkpoints; .ckpt files already in it are replaced")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0 or args.save_top_k < 1:
        print("error: --epochs, --batch-size and --save-top-k must be at least 1 and --lr positive",
              file=sys.stderr)
        return 2
    if args.device not in ("auto", "cpu", "cuda"):
        print(f"error: unknown device {args.device!r}: use auto, cpu or cuda", file=sys.stderr)
        return 2
    try:
        result = run(args.epochs, args.seed, args.device, args.batch_size, args.lr, args.save_top_k,
                     args.ckpt_dir, verbose=True)
    except (ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: kept {', '.join(result['kept_files'])} in {args.ckpt_dir}; best {result['best_file']}")
    return 0
# endregion


if __name__ == "__main__":
    raise SystemExit(main())
