"""Resuming an interrupted run with Lightning Fabric: one state dict saved with fabric.save and restored with fabric.load."""

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


# region: not counted (--forget: the page's experiment puts fresh states back in place of the restored ones)
def fresh_states(optimizer, scheduler, generator: torch.Generator) -> dict:
    return {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": rng_state(generator)}


def forget_states(fresh: dict, forget: tuple, optimizer, scheduler, generator: torch.Generator) -> None:
    if "optimizer" in forget:
        optimizer.load_state_dict(fresh["optimizer"])
    if "scheduler" in forget:
        scheduler.load_state_dict(fresh["scheduler"])
    restored = rng_state(generator)
    if "rng" in forget:
        restored.update({k: v for k, v in fresh["rng"].items() if k != "loader"})
    if "loader" in forget:
        restored["loader"] = fresh["rng"]["loader"]
    set_rng_state(restored, generator)
# endregion


def train(epochs: int, seed: int, device: str, batch_size: int, lr: float, stop_after: int | None = None,
          ckpt_path: str | None = None, resume: bool = False, forget: tuple = (), verbose: bool = False):
    fabric = Fabric(accelerator=device, devices=1)
    seed_everything(seed)
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
    state = {"model": model, "optimizer": optimizer, "scheduler": scheduler, "epoch": 0, "global_step": 0}
    # region: not counted (the values run() returns)
    history = {"train_loss": [], "val_loss": [], "lr": []}
    # endregion

    if resume:
        # region: not counted (--forget)
        fresh = fresh_states(optimizer, scheduler, generator)
        # endregion
        remainder = fabric.load(ckpt_path, state)
        set_rng_state(remainder["rng"], generator)
        # region: not counted (--forget)
        forget_states(fresh, forget, optimizer, scheduler, generator)
        # endregion

    for epoch in range(state["epoch"], stop_after or epochs):
        model.train()
        total = 0.0
        for x, y in train_loader:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            fabric.backward(loss)
            optimizer.step()
            total += loss.detach() * len(x)
            state["global_step"] += 1
        train_loss = (total / len(train_set)).item()

        model.eval()
        total = 0.0
        with torch.no_grad():
            for x, y in val_loader:
                total += loss_fn(model(x), y) * len(x)
        val_loss = (total / len(val_set)).item()
        # region: not counted (the values run() returns)
        history["lr"].append(optimizer.param_groups[0]["lr"])
        history["train_loss"].append(train_loss)
        history["val_loss"].append(val_loss)
        # endregion
        if verbose:
            fabric.print(f"epoch {epoch}  lr {optimizer.param_groups[0]['lr']:.4f}  train_loss {train_loss:.4f}"
                         f"  val_loss {val_loss:.4f}")
        scheduler.step()

    if stop_after is not None:
        state.update(epoch=stop_after, rng=rng_state(generator))
        fabric.save(ckpt_path, state)
    return model.module, history, state["global_step"]


# region: not counted (the page's experiment: uninterrupted, interrupted and resumed, compared)
RESTORABLE = ("optimizer", "scheduler", "rng", "loader")


def run(epochs: int = 6, seed: int = 0, device: str = "auto", batch_size: int = 32, lr: float = 0.01,
        stop_after: int | None = None, ckpt_dir: str = "checkpoints_fabric", forget: tuple = (),
        verbose: bool = False) -> dict:
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
    reference, reference_history, reference_steps = train(epochs, seed, device, batch_size, lr, verbose=verbose)
    if verbose:
        print(f"-- interrupted after {stop_after} of {epochs} epochs")
    _, before, _ = train(epochs, seed, device, batch_size, lr, stop_after=stop_after, ckpt_path=ckpt_path,
                         verbose=verbose)
    if verbose:
        print(f"-- resumed from {os.path.basename(ckpt_path)}" + (f", forgetting {', '.join(forget)}" if forget else ""))
    model, after, steps = train(epochs, seed, device, batch_size, lr, ckpt_path=ckpt_path, resume=True,
                                forget=tuple(forget), verbose=verbose)

    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    expected = {k: v.detach().cpu() for k, v in reference.state_dict().items()}
    return {"history": {k: before[k] + after[k] for k in before}, "state_dict": state,
            "steps": reference_steps + steps, "global_step": steps, "device": str(next(model.parameters()).device),
            "uninterrupted_history": reference_history,
            "bitwise_equal": all(torch.equal(state[k], expected[k]) for k in state),
            "resume_difference": max((state[k] - expected[k]).abs().max().item() for k in state),
            "checkpoint_file": os.path.basename(ckpt_path), "forgotten": sorted(forget),
            "checkpoint_epoch": torch.load(ckpt_path, map_location="cpu", weights_only=True)["epoch"]}
# endregion


# region: not counted (the command line)
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
    if args.device not in ("auto", "cpu", "cuda"):
        print(f"error: unknown device {args.device!r}: use auto, cpu or cuda", file=sys.stderr)
        return 2
    try:
        result = run(args.epochs, args.seed, args.device, args.batch_size, args.lr, args.stop_after,
                     args.ckpt_dir, tuple(args.forget), verbose=True)
    except (ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    verdict = "bitwise equal to" if result["bitwise_equal"] else "DIFFERENT from"
    print(f"done: resumed weights {verdict} the uninterrupted run "
          f"(max |difference| {result['resume_difference']:.3g})")
    return 0
# endregion


if __name__ == "__main__":
    raise SystemExit(main())
