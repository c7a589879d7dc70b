"""Training by steps with Lightning Fabric: your loop counts steps, validates and saves every n, and resumes mid-epoch from fabric.load."""

import argparse
import itertools
import os

import torch
from lightning_fabric import Fabric, seed_everything
from torch import nn
from torch.utils.data import DataLoader, SubsetRandomSampler, TensorDataset


def make_data(seed: int, train_size: int = 200, val_size: int = 64, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(train_size + val_size, features, generator=generator)
    teacher = torch.randn(features, 2, generator=generator)
    y = (x @ teacher).argmax(dim=1)
    return TensorDataset(x[:train_size], y[:train_size]), TensorDataset(x[train_size:], y[train_size:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


def evaluate(model: nn.Module, loader: DataLoader, loss_fn) -> float:
    model.eval()
    total = 0.0
    with torch.no_grad():
        for x, y in loader:
            total += loss_fn(model(x), y) * len(x)
    model.train()
    return total.item() / len(loader.dataset)


def train(max_steps: int, epochs: int | None, seed: int, device: str, val_every: int, ckpt_every: int,
          ckpt_dir: str, history: dict, resume_from: str | None = None, verbose: bool = False) -> nn.Module:
    fabric = Fabric(accelerator=device, devices=1)
    seed_everything(seed)
    train_set, val_set = make_data(seed)
    generator = torch.Generator().manual_seed(seed)
    sampler = SubsetRandomSampler(range(len(train_set)), generator=generator)
    train_loader = DataLoader(train_set, batch_size=16, sampler=sampler, generator=generator)
    val_loader = DataLoader(val_set, batch_size=16)

    model = build_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model, optimizer = fabric.setup(model, optimizer)
    train_loader, val_loader = fabric.setup_dataloaders(train_loader, val_loader)
    loss_fn = nn.CrossEntropyLoss()
    state = {"model": model, "optimizer": optimizer, "step": 0, "epoch": 0, "position": 0,
             "epoch_start": generator.get_state()}
    if resume_from is not None:
        fabric.load(resume_from, state)
        generator.set_state(state["epoch_start"])

    model.train()
    while state["step"] < max_steps and (epochs is None or state["epoch"] < epochs):
        state["epoch_start"] = generator.get_state()
        for x, y in itertools.islice(train_loader, state["position"], None):
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            fabric.backward(loss)
            optimizer.step()
            state["step"] += 1
            state["position"] += 1
            step = state["step"]
            if step % val_every == 0:
                history["val_loss"].append(evaluate(model, val_loader, loss_fn))
                history["val_step"].append(step)
                if verbose:
                    fabric.print(f"step {step}/{max_steps}  epoch {state['epoch']}  val_loss {history['val_loss'][-1]:.4f}")
            if step % ckpt_every == 0:
                fabric.save(os.path.join(ckpt_dir, f"step={step}.ckpt"), state)
            if step == max_steps:
                break
        if state["position"] == len(train_loader):
            state["epoch"], state["position"] = state["epoch"] + 1, 0
    return model


def run(max_steps: int = 30, seed: int = 0, device: str = "auto", val_every: int = 5, ckpt_every: int = 10,
        stop_at: int = 0, epochs: int | None = None, ckpt_dir: str = "checkpoints_fabric",
        verbose: bool = False) -> dict:
    if min(max_steps, val_every, ckpt_every) < 1 or (epochs is not None and epochs < 1):
        raise ValueError("--max-steps, --epochs and the intervals must be at least 1")
    if stop_at % ckpt_every or not 0 <= stop_at < max_steps:
        raise ValueError("--stop-at must be a multiple of the checkpoint interval, below --max-steps")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    os.makedirs(ckpt_dir, exist_ok=True)
    for name in os.listdir(ckpt_dir):
        if name.endswith(".ckpt"):
            os.remove(os.path.join(ckpt_dir, name))
    history = {"val_loss": [], "val_step": []}
    resume_from = None
    if stop_at:
        train(stop_at, epochs, seed, device, val_every, ckpt_every, ckpt_dir, history, verbose=verbose)
        resume_from = os.path.join(ckpt_dir, f"step={stop_at}.ckpt")
        if not os.path.exists(resume_from):
            raise ValueError(f"the training ended before step {stop_at}: no checkpoint to resume from")
        if verbose:
            print(f"-- stopped at step {stop_at}; a fresh start resumes from {resume_from}")
    model = train(max_steps, epochs, seed, device, val_every, ckpt_every, ckpt_dir, history, resume_from, verbose)
    return {"model": model, "history": history}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-steps", type=int, default=30)
    parser.add_argument("--epochs", type=int, help="an upper bound in epochs as well (default: none)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--stop-at", type=int, default=20, help="interrupt at this step, then resume (0: never)")
    parser.add_argument("--ckpt-dir", default="checkpoints_fabric")
    args = parser.parse_args(argv)
    try:
        run(args.max_steps, args.seed, args.device, stop_at=args.stop_at, epochs=args.epochs, ckpt_dir=args.ckpt_dir,
            verbose=True)
    except (ValueError, RuntimeError) as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
