"""Resuming an interrupted run with Lightning Fabric: a last and a best checkpoint every epoch with fabric.save, fabric.load of one state dict, RNG states added by hand."""

import argparse
import os
import shutil

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
    return nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 2))


def rng_state(generator: torch.Generator) -> dict:
    state = {"torch": torch.get_rng_state(), "loader": generator.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict, generator: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])
    generator.set_state(state["loader"])


def train(epochs: int, seed: int, device: str, ckpt_dir: str, history: dict, resume: bool = False,
          verbose: bool = False) -> nn.Module:
    fabric = Fabric(accelerator=device, devices=1)
    seed_everything(seed)
    train_set, val_set = make_data(seed)
    generator = torch.Generator().manual_seed(seed)
    train_loader = DataLoader(train_set, batch_size=32, shuffle=True, generator=generator)
    val_loader = DataLoader(val_set, batch_size=32)

    model = build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    model, optimizer = fabric.setup(model, optimizer)
    train_loader, val_loader = fabric.setup_dataloaders(train_loader, val_loader)
    loss_fn = nn.CrossEntropyLoss()
    last_path, best_path = os.path.join(ckpt_dir, "last.ckpt"), os.path.join(ckpt_dir, "best.ckpt")
    state = {"model": model, "optimizer": optimizer, "scheduler": scheduler, "epoch": 0, "global_step": 0,
             "best_acc": 0.0}
    start = 0
    if resume:
        remainder = fabric.load(last_path, state)
        set_rng_state(remainder["rng"], generator)
        start = state["epoch"] + 1

    for epoch in range(start, epochs):
        history["lr"].append(optimizer.param_groups[0]["lr"])
        model.train()
        total = 0.0
        for x, y in train_loader:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            fabric.backward(loss)
            optimizer.step()
            total += loss.detach() * len(x)
            state["global_step"] += 1
        history["train_loss"].append((total / len(train_set)).item())

        model.eval()
        total, correct = 0.0, 0
        with torch.no_grad():
            for x, y in val_loader:
                logits = model(x)
                total += loss_fn(logits, y) * len(x)
                correct += (logits.argmax(dim=1) == y).sum()
        history["val_loss"].append((total / len(val_set)).item())
        history["val_acc"].append((correct / len(val_set)).item())
        if verbose:
            fabric.print(f"epoch {epoch}  lr {history['lr'][-1]:.4f}  train_loss {history['train_loss'][-1]:.4f}"
                         f"  val_loss {history['val_loss'][-1]:.4f}  val_acc {history['val_acc'][-1]:.4f}")
        scheduler.step()

        improved = history["val_acc"][-1] > state["best_acc"]
        state.update(epoch=epoch, best_acc=max(state["best_acc"], history["val_acc"][-1]), rng=rng_state(generator))
        fabric.save(last_path, state)
        if improved:
            shutil.copyfile(last_path, best_path)
    return model


def run(epochs: int = 8, seed: int = 0, device: str = "auto", stop_after: int = 0,
        ckpt_dir: str = "checkpoints_fabric", verbose: bool = False) -> dict:
    if epochs < 1 or not 0 <= stop_after < epochs:
        raise ValueError("--epochs must be at least 1 and --stop-after between 0 and --epochs - 1")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    history = {"train_loss": [], "val_loss": [], "val_acc": [], "lr": []}
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    os.makedirs(ckpt_dir)
    if stop_after:
        train(stop_after, seed, device, ckpt_dir, history, verbose=verbose)
        if verbose:
            print(f"-- interrupted after {stop_after} epochs; a fresh start resumes from {ckpt_dir}/last.ckpt")
    model = train(epochs, seed, device, ckpt_dir, history, resume=stop_after > 0, verbose=verbose)
    return {"model": model, "history": history}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--stop-after", type=int, help="interrupt after this many epochs, then resume (default: half)")
    parser.add_argument("--ckpt-dir", default="checkpoints_fabric")
    args = parser.parse_args(argv)
    try:
        stop_after = args.epochs // 2 if args.stop_after is None else args.stop_after
        run(args.epochs, args.seed, args.device, stop_after, args.ckpt_dir, verbose=True)
    except (ValueError, RuntimeError) as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
