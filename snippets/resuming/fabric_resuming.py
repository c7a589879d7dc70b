"""Resuming an interrupted run with Lightning Fabric: one state dict saved with fabric.save and restored with fabric.load."""

import argparse
import os
import sys

import torch
from lightning_fabric import Fabric, seed_everything
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

RESTORABLE = ("optimizer", "scheduler", "rng", "loader")


def make_data(seed: int, n: int = 512, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    teacher = torch.randn(features, 2, generator=generator)
    y = (x @ teacher).argmax(dim=1)
    split = int(0.8 * n)
    return TensorDataset(x[:split], y[:split]), TensorDataset(x[split:], y[split:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 2))


def resolve_accelerator(name: str) -> str:
    if name == "auto":
        return "gpu" if torch.cuda.is_available() else "cpu"
    if name not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {name!r}: use auto, cpu or cuda")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was requested but no CUDA GPU is available")
    return "gpu" if name == "cuda" else "cpu"


def rng_state(generator: torch.Generator) -> dict:
    state = {"torch": torch.get_rng_state(), "loader": generator.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict, generator: torch.Generator, forget: tuple) -> None:
    if "rng" not in forget:
        torch.set_rng_state(state["torch"])
        if "cuda" in state:
            torch.cuda.set_rng_state_all(state["cuda"])
    if "loader" not in forget:
        generator.set_state(state["loader"])


def train(epochs: int, seed: int, accelerator: str, batch_size: int, lr: float, stop_after: int | None = None,
          ckpt_path: str | None = None, resume: bool = False, forget: tuple = (), verbose: bool = False):
    fabric = Fabric(accelerator=accelerator, devices=1)
    seed_everything(seed, verbose=False)
    train_set, val_set = make_data(seed)
    generator = torch.Generator().manual_seed(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True, generator=generator)
    val_loader = DataLoader(val_set, batch_size=batch_size)

    model = build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    model, optimizer = fabric.setup(model, optimizer)
    train_loader, val_loader = fabric.setup_dataloaders(train_loader, val_loader)
    loss_fn = nn.CrossEntropyLoss()
    history = {"train_loss": [], "val_loss": [], "lr": []}
    start, steps = 0, 0

    state = {"model": model, "optimizer": optimizer, "scheduler": scheduler, "epoch": 0, "global_step": 0,
             "history": history}
    if resume:
        restore = {k: v for k, v in state.items() if k not in forget}
        remainder = fabric.load(ckpt_path, restore)
        start, steps, history = restore["epoch"] + 1, restore["global_step"], restore["history"]
        set_rng_state(remainder["rng"], generator, forget)

    for epoch in range(start, stop_after or epochs):
        model.train()
        history["lr"].append(optimizer.param_groups[0]["lr"])
        total, count = 0.0, 0
        for x, y in train_loader:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            fabric.backward(loss)
            optimizer.step()
            total += loss.item() * len(x)
            count += len(x)
            steps += 1
        history["train_loss"].append(total / count)

        model.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for x, y in val_loader:
                total += loss_fn(model(x), y).item() * len(x)
                count += len(x)
        history["val_loss"].append(total / count)
        scheduler.step()
        if verbose:
            fabric.print(f"epoch {epoch}  lr {history['lr'][-1]:.4f}  train_loss {history['train_loss'][-1]:.4f}"
                  f"  val_loss {history['val_loss'][-1]:.4f}")

    if stop_after is not None:
        state.update(epoch=stop_after - 1, global_step=steps, history=history, rng=rng_state(generator))
        fabric.save(ckpt_path, state)
    return model.module, history, steps


def run(epochs: int = 6, seed: int = 0, device: str = "auto", batch_size: int = 32, lr: float = 0.01,
        stop_after: int | None = None, ckpt_dir: str = "checkpoints_fabric", forget: tuple = (), verbose: bool = False) -> dict:
    accelerator = resolve_accelerator(device)
    stop_after = epochs // 2 if stop_after is None else stop_after
    if not 0 < stop_after < epochs:
        raise ValueError(f"--stop-after must be between 1 and {epochs - 1}")
    unknown = set(forget) - set(RESTORABLE)
    if unknown:
        raise ValueError(f"cannot forget {sorted(unknown)}: choose from {', '.join(RESTORABLE)}")
    os.makedirs(ckpt_dir, exist_ok=True)
    ckpt_path = os.path.join(ckpt_dir, "interrupted.ckpt")

    if verbose:
        print(f"-- uninterrupted: {epochs} epochs")
    reference, reference_history, reference_steps = train(epochs, seed, accelerator, batch_size, lr, verbose=verbose)
    if verbose:
        print(f"-- interrupted after epoch {stop_after - 1}")
    train(epochs, seed, accelerator, batch_size, lr, stop_after=stop_after, ckpt_path=ckpt_path, verbose=verbose)
    if verbose:
        print(f"-- resumed from {os.path.basename(ckpt_path)}" + (f", forgetting {', '.join(forget)}" if forget else ""))
    model, history, steps = train(epochs, seed, accelerator, batch_size, lr, ckpt_path=ckpt_path, resume=True,
                                  forget=tuple(forget), verbose=verbose)

    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    expected = {k: v.detach().cpu() for k, v in reference.state_dict().items()}
    return {"history": history, "state_dict": state, "steps": reference_steps + steps, "global_step": steps, "device": str(next(model.parameters()).device),
            "uninterrupted_history": reference_history,
            "bitwise_equal": all(torch.equal(state[k], expected[k]) for k in state),
            "resume_difference": max((state[k] - expected[k]).abs().max().item() for k in state),
            "checkpoint_file": os.path.basename(ckpt_path), "forgotten": sorted(forget)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--stop-after", type=int, help="epochs run before the interruption (default: half)")
    parser.add_argument("--ckpt-dir", default="checkpoints_fabric", help="folder for the checkpoint")
    parser.add_argument("--forget", nargs="*", default=[], help=f"states not to restore: {', '.join(RESTORABLE)}")
    args = parser.parse_args(argv)
    if args.epochs < 2 or args.batch_size < 1 or args.lr <= 0:
        print("error: --epochs must be at least 2, --batch-size at least 1 and --lr positive", file=sys.stderr)
        return 2
    try:
        result = run(args.epochs, args.seed, args.device, args.batch_size, args.lr, args.stop_after,
                     args.ckpt_dir, tuple(args.forget), verbose=True)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    verdict = "bitwise equal to" if result["bitwise_equal"] else "DIFFERENT from"
    print(f"done: resumed weights {verdict} the uninterrupted run "
          f"(max |difference| {result['resume_difference']:.3g})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
